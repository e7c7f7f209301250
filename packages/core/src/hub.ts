import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { Opcode, ReadyState } from './constants.js';
import { ErrorCode, rangeError, typeError, WebSocketError } from './errors.js';
import { headerSize, writeHeader } from './frame.js';
import type { SendData, WebSocket } from './websocket.js';

/**
 * Topics and broadcast. A {@link Hub} keeps which local connections subscribe to which topics and
 * delivers published messages to them, framing each message once: the same Buffer is queued for
 * every subscriber that can take it as is (server connections without compression, or whose
 * compression shares output; see {@link Hub.publish}). A {@link Broker} carries messages between
 * processes and machines; without one, delivery is local to the process.
 */

/** Carries published messages between hubs (processes, machines). */
export interface Broker {
  /**
   * Connects a hub to the broker. `deliver` must be called for every message published on a topic
   * the hub subscribed to by another hub (never the hub's own messages), in each publisher's order.
   */
  attach(nodeId: string, deliver: (topic: string, payload: Buffer, binary: boolean) => void, onError: (err: WebSocketError) => void): void;
  /** The hub has its first local subscriber for `topic`. */
  subscribe(topic: string): void | Promise<void>;
  /** The hub's last local subscriber for `topic` left. */
  unsubscribe(topic: string): void | Promise<void>;
  /**
   * Sends a message to the other hubs. May throw (or reject with) a `WebSocketError` when the
   * broker cannot accept it (`ERR_BROKER_UNAVAILABLE`); the hub reports that as an `error` event.
   */
  publish(topic: string, payload: Buffer, binary: boolean): void | Promise<void>;
  /** Detaches the hub. */
  close(): void | Promise<void>;
}

/**
 * In-process message bus: hubs whose brokers come from the same bus reach each other, like
 * processes sharing a Redis server. A hub created without a broker gets a bus of its own, i.e.
 * purely local delivery; sharing one is mostly useful in tests.
 */
export class InMemoryBus {
  private readonly members = new Set<MemoryBroker>();

  /** A broker for one hub on this bus. */
  broker(): Broker {
    return new MemoryBroker(this.members);
  }
}

class MemoryBroker implements Broker {
  private deliver: ((topic: string, payload: Buffer, binary: boolean) => void) | undefined;
  private readonly topics = new Set<string>();

  constructor(private readonly members: Set<MemoryBroker>) {
    members.add(this);
  }

  attach(_nodeId: string, deliver: (topic: string, payload: Buffer, binary: boolean) => void): void {
    this.deliver = deliver;
  }

  subscribe(topic: string): void {
    this.topics.add(topic);
  }

  unsubscribe(topic: string): void {
    this.topics.delete(topic);
  }

  publish(topic: string, payload: Buffer, binary: boolean): void {
    for (const m of this.members) if (m !== this && m.topics.has(topic)) m.deliver?.(topic, payload, binary);
  }

  close(): void {
    this.members.delete(this);
  }
}

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
  /** A connection not to deliver to (typically the sender of the message being relayed). */
  except?: WebSocket;
}

/** Events a hub emits. */
export interface HubEvents {
  /**
   * The broker failed (a publish it could not accept, a lost connection). Without a listener the
   * first failure becomes a process warning (`WsupHubWarning`) instead of crashing the process.
   */
  error: [error: WebSocketError];
}

function toPayload(data: SendData, binary: boolean | undefined): { payload: Buffer; binary: boolean } {
  if (typeof data === 'string') return { payload: Buffer.from(data, 'utf8'), binary: binary === true };
  if (Buffer.isBuffer(data)) return { payload: data, binary: binary !== false };
  if (data instanceof ArrayBuffer) return { payload: Buffer.from(data), binary: binary !== false };
  if (ArrayBuffer.isView(data)) return { payload: Buffer.from(data.buffer, data.byteOffset, data.byteLength), binary: binary !== false };
  throw typeError('publish() takes a string, Buffer, ArrayBuffer or typed array');
}

/** An unmasked server frame of a whole message: what every plain subscriber gets. */
function frameOf(payload: Buffer, opcode: number, rsv1: boolean): Buffer {
  const h = headerSize(payload.length, false);
  const frame = Buffer.allocUnsafe(h + payload.length);
  writeHeader(frame, 0, true, rsv1, opcode, payload.length, false);
  payload.copy(frame, h);
  return frame;
}

/**
 * Topics for WebSockets: `ws.subscribe(topic)`, then `hub.publish(topic, data)` reaches every
 * subscriber, here and (with a broker) in every other process. Connections leave all their topics
 * when they close.
 *
 * Each subscriber's send limits apply to it alone: a slow subscriber's messages queue in its own
 * buffer (shared Buffers, counted against its `maxBuffered`), never delaying the others.
 */
export class Hub extends EventEmitter<HubEvents> {
  /** This hub's id among the hubs of a broker. */
  readonly nodeId: string = randomBytes(8).toString('hex');
  private readonly topicMap = new Map<string, Set<WebSocket>>();
  private readonly memberships = new WeakMap<WebSocket, Set<string>>();
  private readonly broker: Broker;
  private readonly maxTopicLength: number;
  private closed = false;
  /** A broker failure was reported as a process warning (there was no error listener). */
  private warned = false;

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
  subscribe(ws: WebSocket, topic: string): void {
    this.checkTopic(topic);
    if (this.closed) throw new WebSocketError(ErrorCode.HubClosed, 'the hub is closed');
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
  unsubscribe(ws: WebSocket, topic: string): void {
    this.checkTopic(topic);
    this.memberships.get(ws)?.delete(topic);
    const subs = this.topicMap.get(topic);
    if (!subs || !subs.delete(ws)) return;
    if (subs.size === 0) {
      this.topicMap.delete(topic);
      if (!this.closed) this.brokerCall(() => this.broker.unsubscribe(topic));
    }
  }

  /** Removes `ws` from every topic (done automatically when it closes). */
  unsubscribeAll(ws: WebSocket): void {
    const mine = this.memberships.get(ws);
    if (!mine) return;
    for (const topic of [...mine]) this.unsubscribe(ws, topic);
    this.memberships.delete(ws);
  }

  /** The topics `ws` subscribes to. */
  topicsOf(ws: WebSocket): ReadonlySet<string> {
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
    const { payload, binary: isBinary } = toPayload(data, binary);
    const count = this.deliverLocal(topic, payload, isBinary, options?.except);
    this.brokerCall(() => this.broker.publish(topic, payload, isBinary));
    return count;
  }

  /** Detaches from the broker and drops all subscriptions; publishing afterwards throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.topicMap.clear();
    await this.broker.close();
  }

  private deliverLocal(topic: string, payload: Buffer, binary: boolean, except: WebSocket | undefined): number {
    const subs = this.topicMap.get(topic);
    if (!subs) return 0;
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    let plain: Buffer | undefined;
    let compressed: Map<string, Buffer> | undefined;
    let text: string | undefined;
    let count = 0;
    for (const ws of subs) {
      if (ws === except) continue;
      const deflate = ws.deflateCodec;
      if (ws.isClient || (deflate && payload.length >= deflate.threshold && deflate.sharedKey === undefined)) {
        // Masked frames (client side) or a per-connection compression context: framed alone.
        if (!binary) text ??= payload.utf8Slice(0, payload.length);
        try {
          ws.send(binary ? payload : text!, binary);
        } catch {
          // A connection in the middle of its own fragmented message cannot take another now.
          continue;
        }
        if (ws.readyState === ReadyState.Open) count++;
        continue;
      }
      let frame: Buffer;
      if (deflate && payload.length >= deflate.threshold) {
        compressed ??= new Map();
        const key = deflate.sharedKey!;
        let f = compressed.get(key);
        if (!f) {
          f = frameOf(deflate.compress(payload), opcode, true);
          compressed.set(key, f);
        }
        frame = f;
      } else {
        plain ??= frameOf(payload, opcode, false);
        frame = plain;
      }
      if (ws.sendFramed(frame)) count++;
    }
    return count;
  }

  private checkTopic(topic: unknown): asserts topic is string {
    if (typeof topic !== 'string' || topic.length === 0) {
      const err = typeError('a topic must be a non-empty string');
      err.code = ErrorCode.InvalidTopic as never;
      throw err;
    }
    if (topic.length > this.maxTopicLength) {
      const err = rangeError(`topic longer than ${this.maxTopicLength} characters`);
      err.code = ErrorCode.InvalidTopic as never;
      throw err;
    }
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
    const e = err instanceof WebSocketError ? err : new WebSocketError(ErrorCode.BrokerUnavailable, `broker failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    if (this.listenerCount('error') > 0) {
      this.emit('error', e);
    } else if (!this.warned) {
      // No listener: a process warning rather than a crash (local delivery goes on regardless),
      // once, so that a broker that stays down does not flood the log.
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
