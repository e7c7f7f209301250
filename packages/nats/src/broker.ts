import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Broker, brokerOutage, ErrorCode, errorMessage, MessageEnvelope, WebSocketError } from '@wsup/core';
import { connect, type NatsConnection, type NodeConnectionOptions, type Subscription } from '@nats-io/transport-node';
import { DroppedMessageError } from './errors.js';
import { type NatsBrokerOptions, type ResolvedBrokerOptions, resolveBrokerOptions } from './options.js';
import { Outbox, type Pending } from './outbox.js';
import { Presence, PresenceKind } from './presence.js';
import { presenceSubject, topicSubject } from './subjects.js';

/** Events a {@link NatsBroker} emits. */
export interface NatsBrokerEvents {
  /**
   * Connected to NATS: the server has every subscription of the hub's topics and the messages
   * buffered during an outage have been sent.
   */
  connected: [];
  /** The connection to NATS was lost; publishes are buffered until it is back. */
  disconnected: [];
}

type Deliver = (topic: string, payload: Buffer, binary: boolean) => void;
type ReportError = (err: WebSocketError) => void;

/**
 * Client settings the broker needs whatever the user's options say. `noEcho`: the server never
 * sends the connection its own messages. Reconnecting forever: the broker buffers (bounded) while
 * the client reconnects, and the client resubscribes by itself. No `waitOnFirstConnect`: the
 * broker retries the first connection itself, so that `close()` can stop it.
 */
const CONNECTION_OVERRIDES = {
  noEcho: true,
  reconnect: true,
  maxReconnectAttempts: -1,
  waitOnFirstConnect: false,
} as const satisfies NodeConnectionOptions;

/** The client's default `reconnectTimeWait`, used between first connection attempts too. */
const DEFAULT_RETRY_MS = 2000;
/** How long `close()` waits for the server to take the goodbye. */
const CLOSE_FLUSH_MS = 1000;

/**
 * A {@link Broker} over NATS core pub/sub, for hubs in several processes or on several machines.
 *
 * ```ts
 * const hub = new Hub({ broker: new NatsBroker({ servers: 'nats://nats:4222' }) });
 * handleUpgrades(server, { hub });
 * ```
 *
 * Each topic is a subject, `<prefix>.t.<base64url(topic)>` (any topic string, wildcards and dots
 * included, is one literal token), and a node subscribes only to the subjects of topics that
 * have local subscribers, so a message reaches only the nodes that want it. Payloads travel as
 * they are, behind a small header naming the publishing node; the connection is `noEcho`, so a
 * node never gets its own messages back. Works with one server or a cluster (give several
 * `servers`; the client fails over between them).
 *
 * Guarantees: at most once per subscriber, in each publisher's order. While NATS is
 * unreachable, local delivery goes on and remote publishes are buffered by the broker up to
 * `maxBufferedMessages` / `maxBufferedBytes`, then sent in order once it is back; a publish past
 * the bound is dropped and reported to the hub as a {@link DroppedMessageError}. The outage
 * itself is reported once, as an `ERR_BROKER_UNAVAILABLE` error.
 *
 * One broker per hub.
 */
export class NatsBroker extends EventEmitter<NatsBrokerEvents> implements Broker {
  /** Names this broker's errors on the `wsup:broker:error` diagnostics channel. */
  readonly name = 'nats';
  private readonly options: ResolvedBrokerOptions;
  private readonly outbox: Outbox;
  /** Topics with local subscribers → their subscription (null until there is a connection). */
  private readonly topics = new Map<string, Subscription | null>();
  private codec: MessageEnvelope | undefined;
  private presence: Presence | undefined;
  private deliver: Deliver | undefined;
  private report: ReportError | undefined;
  private nc: NatsConnection | undefined;
  /** Publishes go to the client as they come (not to the outbox). */
  private live = false;
  /** The server has acknowledged every subscription of the current connection. */
  private synced = false;
  private isConnected = false;
  /** Bumped on every connect and disconnect: async work of an older connection stops. */
  private epoch = 0;
  /** subscribe() calls made while disconnected, resolved once the server has their subscriptions. */
  private syncWaiters: (() => void)[] = [];
  /** The current outage has been reported to the hub. */
  private downReported = false;
  private lastError: unknown;
  private closed = false;
  private readonly stopping = new AbortController();

  constructor(options?: NatsBrokerOptions) {
    super();
    this.options = resolveBrokerOptions(options);
    this.outbox = new Outbox(this.options.maxBufferedMessages, this.options.maxBufferedBytes);
  }

  /** Whether the broker is connected and synchronised (see the `connected` event). */
  get connected(): boolean {
    return this.isConnected;
  }

  /** The subject prefix. */
  get prefix(): string {
    return this.options.prefix;
  }

  /** Messages published while NATS was unreachable, waiting to be sent. */
  get bufferedMessages(): number {
    return this.outbox.size;
  }

  /**
   * The NATS subject `topic` travels on (for monitoring and permissions).
   * @throws {WebSocketError} `ERR_INVALID_TOPIC` for a topic NATS cannot carry (unpaired surrogates, too long).
   */
  subjectOf(topic: string): string {
    return topicSubject(this.options.prefix, topic);
  }

  /** Called by the hub it is given to: starts connecting. */
  attach(nodeId: string, deliver: Deliver, onError: ReportError): void {
    if (this.codec) throw new WebSocketError(ErrorCode.InvalidOption, 'a NatsBroker serves one hub: create one per hub');
    if (this.closed) throw new WebSocketError(ErrorCode.HubClosed, 'the broker is closed');
    this.codec = new MessageEnvelope(nodeId);
    this.deliver = deliver;
    this.report = onError;
    this.presence = new Presence((kind) => this.announce(kind));
    void this.connectFirst({ name: `wsup-${nodeId}`, ...this.options.connection, ...CONNECTION_OVERRIDES });
  }

  /** The hub has its first local subscriber for `topic`; resolves once the NATS server has the subscription. */
  subscribe(topic: string): Promise<void> {
    const subject = this.subjectOf(topic);
    if (this.closed || this.topics.has(topic)) return Promise.resolve();
    const nc = this.nc;
    this.topics.set(topic, nc ? this.subscribeOn(nc, topic, subject) : null);
    // A PING answered means the server has processed the SUB before it.
    if (nc && this.synced) return nc.flush().catch(() => this.nextSync());
    return this.nextSync();
  }

  /** The hub's last local subscriber for `topic` left. */
  unsubscribe(topic: string): void {
    const sub = this.topics.get(topic);
    this.topics.delete(topic);
    try {
      sub?.unsubscribe();
    } catch {
      // The connection is closed: the subscription is gone with it.
    }
  }

  /** Sends a message to the other nodes, or buffers it while NATS is unreachable. */
  publish(topic: string, payload: Buffer, binary: boolean): void {
    if (this.closed || !this.codec) throw new WebSocketError(ErrorCode.HubClosed, 'the broker is closed');
    const pending: Pending = { topic, subject: this.subjectOf(topic), message: this.codec.encode(payload, binary) };
    if (this.live && this.nc && isUp(this.nc)) {
      this.send(this.nc, pending);
      return;
    }
    // Unreachable (or back, with the buffered messages not sent yet): wait behind whatever
    // already waits, so that the order holds.
    if (this.outbox.push(pending)) return;
    const { maxBufferedMessages, maxBufferedBytes } = this.options;
    this.fail(
      new DroppedMessageError(
        topic,
        1,
        `NATS is unreachable and the publish buffer is full (${maxBufferedMessages} messages or ${maxBufferedBytes} bytes): a message to '${topic}' did not go to the other nodes`,
      ),
    );
  }

  /**
   * Says goodbye to the other brokers and closes the connection. Messages still buffered are
   * dropped, and reported to the hub as one {@link DroppedMessageError}.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopping.abort();
    this.epoch++;
    this.live = false;
    this.synced = false;
    this.isConnected = false;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
    const dropped = this.outbox.takeAll();
    if (dropped.length > 0) {
      this.report?.(
        new DroppedMessageError(
          dropped[0]!.topic,
          dropped.length,
          `${dropped.length} message(s) buffered while NATS was unreachable did not go to the other nodes: the broker closed first`,
        ),
      );
    }
    const nc = this.nc;
    this.nc = undefined;
    if (!nc) return;
    if (isUp(nc)) {
      this.announceOn(nc, PresenceKind.Bye);
      await Promise.race([nc.flush().catch(() => undefined), sleep(CLOSE_FLUSH_MS, undefined, { ref: false })]);
    }
    await nc.close().catch(() => undefined);
  }

  /**
   * Connects, retrying until it succeeds or the broker closes; from then on the client
   * reconnects by itself. Also used again should the client ever give up (it closes itself after
   * repeated authentication failures).
   */
  private async connectFirst(options: NodeConnectionOptions): Promise<void> {
    let nc: NatsConnection;
    for (;;) {
      if (this.closed) return;
      try {
        nc = await connect(options);
        break;
      } catch (err) {
        this.lastError = err;
        this.reportDown();
        try {
          await sleep(options.reconnectTimeWait ?? DEFAULT_RETRY_MS, undefined, { signal: this.stopping.signal });
        } catch {
          return; // closed
        }
      }
    }
    if (this.closed) {
      await nc.close().catch(() => undefined);
      return;
    }
    this.nc = nc;
    void this.watch(nc);
    void nc.closed().then((err) => {
      if (this.closed || this.nc !== nc) return;
      this.nc = undefined;
      this.lastError = err ?? this.lastError;
      for (const topic of this.topics.keys()) this.topics.set(topic, null);
      this.down();
      void this.connectFirst(options);
    });
    const { prefix } = this.options;
    nc.subscribe(presenceSubject(prefix), {
      callback: (err, msg) => {
        if (!err) this.onPresence(msg.data);
      },
    });
    for (const topic of this.topics.keys()) this.topics.set(topic, this.subscribeOn(nc, topic, topicSubject(prefix, topic)));
    void this.up(nc);
  }

  /** Follows the client's connection state. */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.closed || this.nc !== nc) return;
      if (s.type === 'disconnect') this.down();
      else if (s.type === 'reconnect') void this.up(nc);
      else if (s.type === 'error') this.lastError = s.error;
    }
  }

  /**
   * A new connection: the client has sent every subscription on it (it resends them itself after
   * a reconnect). Once the server has processed them, say hello, wait for the other nodes if
   * messages are waiting for them, then send those, oldest first, and go live.
   */
  private async up(nc: NatsConnection): Promise<void> {
    const epoch = ++this.epoch;
    const current = (): boolean => epoch === this.epoch && !this.closed;
    this.presence!.connected();
    try {
      await nc.flush();
    } catch {
      return; // the connection dropped again; the next reconnect starts over
    }
    if (!current()) return;
    this.synced = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
    if (this.outbox.size > 0 && this.options.recoveryTimeoutMs > 0)
      await this.presence!.awaitPeers(this.options.recoveryTimeoutMs, current);
    if (!current() || !isUp(nc)) return;
    // Synchronously, so that nothing published meanwhile can overtake the buffered messages.
    for (const pending of this.outbox.takeAll()) this.send(nc, pending);
    this.live = true;
    this.downReported = false;
    this.lastError = undefined;
    if (!this.isConnected) {
      this.isConnected = true;
      this.emit('connected');
    }
  }

  private down(): void {
    this.epoch++;
    this.live = false;
    this.synced = false;
    this.reportDown();
    if (this.isConnected) {
      this.isConnected = false;
      this.emit('disconnected');
    }
  }

  private subscribeOn(nc: NatsConnection, topic: string, subject: string): Subscription | null {
    try {
      return nc.subscribe(subject, {
        callback: (err, msg) => {
          if (!err) this.onMessage(topic, msg.data);
        },
      });
    } catch (err) {
      this.fail(new WebSocketError(ErrorCode.BrokerUnavailable, `could not subscribe to ${subject}: ${errorMessage(err)}`, { cause: err }));
      return null;
    }
  }

  private nextSync(): Promise<void> {
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  private send(nc: NatsConnection, { topic, subject, message }: Pending): void {
    try {
      nc.publish(subject, message);
    } catch (err) {
      // Larger than the server's max_payload, or the connection closed under us.
      this.fail(new DroppedMessageError(topic, 1, `NATS refused a message to '${topic}': ${errorMessage(err)}`, err));
    }
  }

  private onMessage(topic: string, data: Uint8Array): void {
    if (this.closed) return;
    const envelope = this.codec!.decodeForeign(data);
    if (!envelope) return;
    // A copy: the client's read buffer is not ours to keep, and the hub may queue the payload.
    this.deliver!(topic, Buffer.from(envelope.payload), envelope.binary);
  }

  private onPresence(data: Uint8Array): void {
    if (this.closed) return;
    const envelope = this.codec!.decodeForeign(data);
    if (envelope?.payload.length === 1) this.presence!.received(envelope.sender.toString('utf8'), envelope.payload[0]!);
  }

  private announce(kind: PresenceKind): void {
    if (this.nc && isUp(this.nc)) this.announceOn(this.nc, kind);
  }

  private announceOn(nc: NatsConnection, kind: PresenceKind): void {
    try {
      nc.publish(presenceSubject(this.options.prefix), this.codec!.encode(Buffer.from([kind]), false));
    } catch {
      // Closing or disconnected: the next connection says hello again.
    }
  }

  private reportDown(): void {
    if (this.downReported || this.closed) return;
    this.downReported = true;
    this.fail(brokerOutage('NATS', this.lastError, this.options));
  }

  private fail(err: WebSocketError): void {
    if (!this.closed) this.report?.(err);
  }
}

/**
 * Whether the client has a live connection right now. Its status events arrive asynchronously,
 * after the fact; a message handed to the client in between would go into its own reconnect
 * buffer, which is unbounded and discarded on every reconnect attempt. The client's protocol
 * handler knows synchronously; where that internal is missing, the status events alone decide.
 */
function isUp(nc: NatsConnection): boolean {
  if (nc.isClosed()) return false;
  const connected = (nc as unknown as { protocol?: { connected?: unknown } }).protocol?.connected;
  return typeof connected === 'boolean' ? connected : true;
}
