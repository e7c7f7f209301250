import type { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ErrorCode, rangeError, typeError, WebSocketError } from '../errors.js';
import { payloadOf, type SendData } from '../protocol/bytes.js';
import { Opcode } from '../protocol/constants.js';
import { serverFrame } from '../protocol/frame-header.js';
import { FanOut } from '../protocol/fan-out.js';
import { InMemoryBus, type Broker } from './broker.js';
import { brokerFailed } from './broker-kit.js';
import { Publication, type Subscriber } from './subscriber.js';

/**
 * Topics and broadcast. A {@link Hub} keeps which local connections subscribe to which topics and
 * delivers published messages to them, framing each message once: the same Buffer is queued for
 * every subscriber that can take it as is (server connections without compression, or whose
 * compression shares output; see {@link Hub.publish}). A {@link Broker} carries messages between
 * processes and machines; without one, delivery is local to the process.
 */

export interface HubOptions {
  /**
   * Carries messages to hubs in other processes (see `@wsup/redis`). Default: none, delivery is
   * local. Hubs in one process can share an {@link InMemoryBus}.
   */
  broker?: Broker;
  /** Longest topic name, in UTF-16 code units. Default 256. */
  maxTopicLength?: number;
}

export interface PublishOptions {
  /** A subscriber not to deliver to (typically the WebSocket that sent the message being relayed). */
  except?: Subscriber;
}

/** Events a hub emits. */
export interface HubEvents {
  /**
   * The broker failed (a publish it could not accept, a lost connection). Without a listener the
   * first failure becomes a process warning (`WsupHubWarning`) instead of crashing the process;
   * an outage is a `WsupWarning` (`WSUP_BROKER_UNAVAILABLE`) either way. Every failure is also
   * published on the `wsup:broker:error` diagnostics channel.
   */
  error: [error: WebSocketError];
}

/**
 * Topics for WebSockets: `ws.subscribe(topic)`, then `hub.publish(topic, data)` reaches every
 * subscriber, here and (with a broker) in every other process. Connections leave all their topics
 * when they close. The hub delivers to anything that implements {@link Subscriber}.
 *
 * Each subscriber's send limits apply to it alone: a slow subscriber's messages queue in its own
 * buffer (shared Buffers, counted against its `maxBuffered`), never delaying the others.
 */
export class Hub extends EventEmitter<HubEvents> {
  /** This hub's id among the hubs of a broker. */
  readonly nodeId: string = randomBytes(8).toString('hex');
  private readonly topicMap = new Map<string, Set<Subscriber>>();
  private readonly memberships = new WeakMap<Subscriber, Set<string>>();
  private readonly broker: Broker;
  private readonly maxTopicLength: number;
  private closed = false;
  /** A broker failure was reported as a process warning (there was no error listener). */
  private warned = false;
  /** Each topic's run: open in this turn of the event loop, or carried over to it (see `FanOut`). */
  private readonly runs = new Map<string, FanOut>();
  private sweepScheduled = false;

  constructor(options: HubOptions = {}) {
    super();
    this.maxTopicLength = options.maxTopicLength ?? 256;
    if (!Number.isInteger(this.maxTopicLength) || this.maxTopicLength < 1) throw rangeError('maxTopicLength must be a positive integer');
    this.broker = options.broker ?? new InMemoryBus().broker();
    this.broker.attach(
      this.nodeId,
      (topic, payload, binary) => this.deliverLocal(topic, payload, binary, undefined),
      (err) => this.report(err),
    );
  }

  /** Subscribes `ws` to `topic` (idempotent). */
  subscribe(ws: Subscriber, topic: string): void {
    this.checkTopic(topic);
    if (this.closed) throw new WebSocketError(ErrorCode.HubClosed, 'the hub is closed');
    this.endRun(topic);
    let subs = this.topicMap.get(topic);
    if (!subs) {
      subs = new Set();
      this.topicMap.set(topic, subs);
      this.brokerCall(() => this.broker.subscribe(topic));
    }
    subs.add(ws);
    let mine = this.memberships.get(ws);
    if (!mine) {
      mine = new Set();
      this.memberships.set(ws, mine);
    }
    mine.add(topic);
  }

  /** Unsubscribes `ws` from `topic` (idempotent). */
  unsubscribe(ws: Subscriber, topic: string): void {
    this.checkTopic(topic);
    this.memberships.get(ws)?.delete(topic);
    const subs = this.topicMap.get(topic);
    if (!subs?.delete(ws)) return;
    this.endRun(topic);
    if (subs.size === 0) {
      this.topicMap.delete(topic);
      if (!this.closed) this.brokerCall(() => this.broker.unsubscribe(topic));
    }
  }

  /** Removes `ws` from every topic (done automatically when it closes). */
  unsubscribeAll(ws: Subscriber): void {
    const mine = this.memberships.get(ws);
    if (!mine) return;
    for (const topic of [...mine]) this.unsubscribe(ws, topic);
    this.memberships.delete(ws);
  }

  /** The topics `ws` subscribes to. */
  topicsOf(ws: Subscriber): ReadonlySet<string> {
    return this.memberships.get(ws) ?? EMPTY_SET;
  }

  /** Local subscribers of `topic`. */
  subscriberCount(topic: string): number {
    this.checkTopic(topic);
    return this.topicMap.get(topic)?.size ?? 0;
  }

  /**
   * Sends a message to every subscriber of `topic`: local ones now, other processes' through the
   * broker. Strings go as text unless `binary` is true.
   *
   * The message is framed once for all local server connections without compression (and for
   * those whose permessage-deflate has no server context takeover, compressed once per parameter
   * set); connections with context takeover compress it each for itself, as the protocol
   * requires (their compressor's state is per connection).
   *
   * @returns how many local connections it was queued for.
   * @throws {WebSocketError} `ERR_HUB_CLOSED` after {@link close}.
   */
  publish(topic: string, data: SendData, binary?: boolean, options?: PublishOptions): number {
    this.checkTopic(topic);
    if (this.closed) throw new WebSocketError(ErrorCode.HubClosed, 'the hub is closed');
    const payload = payloadOf(data, 'publish()');
    const isBinary = typeof data === 'string' ? binary === true : binary !== false;
    const count = this.deliverLocal(topic, payload, isBinary, options?.except);
    this.brokerCall(() => this.broker.publish(topic, payload, isBinary));
    return count;
  }

  /** Detaches from the broker and drops all subscriptions; publishing afterwards throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.topicMap.clear();
    for (const run of this.runs.values()) run.close();
    this.runs.clear();
    await this.broker.close();
  }

  private deliverLocal(topic: string, payload: Buffer, binary: boolean, except: Subscriber | undefined): number {
    const subs = this.topicMap.get(topic);
    if (!subs) return 0;
    if (except === undefined) {
      // Every subscriber follows this turn's run of the topic: one append reaches them all.
      const run = this.runs.get(topic);
      if (run?.add(serverFrame(payload, binary ? Opcode.Binary : Opcode.Text, false), payload.length)) {
        if (run.messages === 1) this.sweepLater();
        return run.followers;
      }
    }
    const publication = new Publication(payload, binary);
    const run = except === undefined ? new FanOut() : undefined;
    publication.fanOut = run;
    let count = 0;
    for (const sub of subs) if (sub !== except && sub.deliver(publication)) count++;
    if (run !== undefined) {
      // A run serves the next messages only if it reaches every subscriber as they would.
      if (run.followers === subs.size) this.openRun(topic, run);
      else run.close();
    }
    return count;
  }

  /** Keeps `run` for the topic's next messages in this turn of the event loop, and later ones if it carries over. */
  private openRun(topic: string, run: FanOut): void {
    this.runs.set(topic, run);
    this.sweepLater();
  }

  /** After this turn's flush, forgets the runs that closed in it (those carried over stay). */
  private sweepLater(): void {
    if (this.sweepScheduled) return;
    this.sweepScheduled = true;
    // Scheduled after the senders' flush (the run's first frame scheduled that), so it runs after it.
    setImmediate(() => {
      this.sweepScheduled = false;
      for (const [topic, run] of this.runs) if (!run.open) this.runs.delete(topic);
    });
  }

  /** The topic's subscribers changed: its run (if any) no longer reaches exactly them. */
  private endRun(topic: string): void {
    const run = this.runs.get(topic);
    if (run === undefined) return;
    run.close();
    this.runs.delete(topic);
  }

  private checkTopic(topic: unknown): asserts topic is string {
    if (typeof topic !== 'string' || topic.length === 0) throw typeError('a topic must be a non-empty string', ErrorCode.InvalidTopic);
    if (topic.length > this.maxTopicLength) throw rangeError(`topic longer than ${this.maxTopicLength} characters`, ErrorCode.InvalidTopic);
  }

  private brokerCall(call: () => void | Promise<void>): void {
    try {
      const r = call();
      if (r && typeof r.then === 'function') r.then(undefined, (err: unknown) => this.report(err));
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    const e =
      err instanceof WebSocketError
        ? err
        : new WebSocketError(ErrorCode.BrokerUnavailable, `broker failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    const outage = brokerFailed(this.broker.name ?? 'broker', e);
    if (this.listenerCount('error') > 0) {
      this.emit('error', e);
    } else if (!this.warned && !outage) {
      // No listener: a process warning rather than a crash (local delivery goes on regardless),
      // once, so that a broker that stays down does not flood the log. An outage was one already.
      this.warned = true;
      process.emitWarning(`${e.message} (listen to the hub's 'error' event to handle broker failures; further ones are not reported)`, {
        type: 'WsupHubWarning',
        code: e.code,
      });
    }
  }
}

const EMPTY_SET: ReadonlySet<string> = new Set();

let defaultHub: Hub | undefined;

/** The hub of WebSockets created without one (outside {@link handleUpgrades} and any `hub` option). */
export function getDefaultHub(): Hub {
  defaultHub ??= new Hub();
  return defaultHub;
}
