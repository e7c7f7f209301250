import { EventEmitter } from 'node:events';
import { brokerOutage, checkTopicEncodable, ErrorCode, errorMessage, MessageEnvelope, WebSocketError, type Broker } from '@wsup/core';
import { Redis, type RedisOptions } from 'ioredis';
import type { PubSubMode } from './capabilities.js';
import { ClusterPublisher } from './cluster/publisher.js';
import { ClusterSubscriber } from './cluster/subscriber.js';
import { ClusterTopology, type NodeAddress } from './cluster/topology.js';
import { DroppedMessageError } from './errors.js';
import { resolveBrokerOptions, type RedisBrokerOptions, type ResolvedBrokerOptions } from './options.js';
import { Publisher } from './publisher.js';
import { Subscriber } from './subscriber.js';

/** Events a {@link RedisBroker} emits. */
export interface RedisBrokerEvents {
  /**
   * Both connections are up: every topic with local subscribers is subscribed in Redis again and
   * the messages buffered during an outage have been sent.
   */
  connected: [];
  /** A connection to Redis was lost; publishes are buffered until it is back. */
  disconnected: [];
}

type Deliver = (topic: string, payload: Buffer, binary: boolean) => void;
type ReportError = (err: WebSocketError) => void;

/**
 * Settings the broker's own connections need whatever the user's options say: the broker
 * buffers publishes itself (bounded) and resubscribes from the hub's topics, and a command that
 * was in flight when a connection dropped may have run already, so resending it could deliver a
 * message twice.
 */
const CONNECTION_OVERRIDES: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  autoResubscribe: false,
  autoResendUnfulfilledCommands: false,
};

/** How often a cluster's slot map is read again while the broker is not connected (a failover in progress). */
const TOPOLOGY_RETRY_MS = 500;
/** How often it is read anyway, to follow failovers and migrations nothing else revealed. */
const TOPOLOGY_REFRESH_MS = 5000;

/**
 * A {@link Broker} over Redis pub/sub, for hubs in several processes or on several machines.
 *
 * ```ts
 * const hub = new Hub({ broker: new RedisBroker({ connection: 'redis://redis:6379' }) });
 * handleUpgrades(server, { hub });
 * ```
 *
 * Each topic is a channel, `prefix + topic`, and a node subscribes only to the channels of
 * topics that have local subscribers, so a message reaches only the nodes that want it. Uses
 * sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`) when the server has it (Redis 7+), classic pub/sub
 * otherwise. Payloads travel as they are, behind a header naming the publishing node, so a node
 * never gets its own messages back.
 *
 * Built on ioredis: its pub/sub events hand over channel and payload as Buffers (binary-safe,
 * nothing decoded), it has `SSUBSCRIBE`/`SPUBLISH`, and it reconnects on its own with a
 * configurable backoff (`retryStrategy`), which the broker builds on to resubscribe and to send
 * what it buffered.
 *
 * Guarantees: at most once per subscriber, in each publisher's order. While Redis is
 * unreachable, local delivery goes on and remote publishes are buffered up to
 * `maxBufferedMessages` / `maxBufferedBytes`, then sent in order once it is back; a publish past
 * the bound is dropped and reported to the hub as a {@link DroppedMessageError}.
 *
 * With `cluster` (seed nodes of a Redis Cluster), each topic's channel lives on the shard of its
 * hash slot: the broker reads the slot map (`CLUSTER SLOTS`), publishes each message with
 * `SPUBLISH` to the master serving the slot, subscribes on that master (one subscriber connection
 * per master with subscribed topics), and follows failovers and slot migrations.
 *
 * ```ts
 * new RedisBroker({ cluster: ['10.0.0.1:7000', '10.0.0.2:7000'] })
 * ```
 *
 * One broker per hub.
 */
export class RedisBroker extends EventEmitter<RedisBrokerEvents> implements Broker {
  /** Names this broker's errors on the `wsup:broker:error` diagnostics channel. */
  readonly name = 'redis';
  private readonly options: ResolvedBrokerOptions;
  private codec: MessageEnvelope | undefined;
  private deliver: Deliver | undefined;
  private report: ReportError | undefined;
  private pubConn: Redis | undefined;
  private subConn: Redis | undefined;
  private publisher: Publisher | ClusterPublisher | undefined;
  private subscriber: Subscriber | ClusterSubscriber | undefined;
  private topology: ClusterTopology | undefined;
  private topologyTimer: NodeJS.Timeout | undefined;
  private isConnected = false;
  /** The current outage has been reported to the hub. */
  private downReported = false;
  private lastError: unknown;
  private closed = false;

  constructor(options?: RedisBrokerOptions) {
    super();
    this.options = resolveBrokerOptions(options);
  }

  /** Whether both connections are up and synchronised (see the `connected` event). */
  get connected(): boolean {
    return this.isConnected;
  }

  /** Sharded or classic pub/sub, once the publishing connection has found out. */
  get mode(): PubSubMode | undefined {
    return this.publisher?.mode;
  }

  /** The channel prefix. */
  get prefix(): string {
    return this.options.prefix;
  }

  /** Messages published while Redis was unreachable, waiting to be sent. */
  get bufferedMessages(): number {
    return this.publisher?.buffered ?? 0;
  }

  /** Called by the hub it is given to: opens the two connections. */
  attach(nodeId: string, deliver: Deliver, onError: ReportError): void {
    if (this.codec) throw new WebSocketError(ErrorCode.InvalidOption, 'a RedisBroker serves one hub: create one per hub');
    if (this.closed) throw new WebSocketError(ErrorCode.HubClosed, 'the broker is closed');
    this.codec = new MessageEnvelope(nodeId);
    this.deliver = deliver;
    this.report = onError;
    if (this.options.cluster) {
      this.attachCluster(nodeId, this.options.cluster);
      return;
    }
    const { sharded, recoveryTimeoutMs, maxBufferedMessages, maxBufferedBytes } = this.options;
    this.pubConn = this.open(`wsup-pub-${nodeId}`);
    this.subConn = this.open(`wsup-sub-${nodeId}`);
    this.publisher = new Publisher(this.pubConn, sharded, recoveryTimeoutMs, maxBufferedMessages, maxBufferedBytes, this.publisherHooks());
    this.subscriber = new Subscriber(this.subConn, sharded, this.subscriberHooks());
    for (const conn of [this.pubConn, this.subConn]) {
      // ioredis keeps retrying by itself (retryStrategy); this first attempt's failure is just
      // the first of those.
      conn.connect().catch(() => undefined);
    }
  }

  /**
   * Cluster mode: the slot map, one publishing connection per master and one subscriber
   * connection per master with subscribed topics (see ClusterPublisher, ClusterSubscriber).
   */
  private attachCluster(nodeId: string, seeds: NodeAddress[]): void {
    const { recoveryTimeoutMs, maxBufferedMessages, maxBufferedBytes } = this.options;
    const topology = new ClusterTopology(
      seeds,
      (address) => this.openNode(address, `wsup-probe-${nodeId}`, { retryStrategy: () => null, connectTimeout: 2000 }),
      () => [...(this.publisher as ClusterPublisher).connections(), ...(this.subscriber as ClusterSubscriber).connections()],
    );
    this.topology = topology;
    this.publisher = new ClusterPublisher(
      topology,
      (address) => this.openNode(address, `wsup-pub-${nodeId}`),
      recoveryTimeoutMs,
      maxBufferedMessages,
      maxBufferedBytes,
      this.publisherHooks(),
    );
    this.subscriber = new ClusterSubscriber(topology, (address) => this.openNode(address, `wsup-sub-${nodeId}`), this.subscriberHooks());
    let ticks = 0;
    const poll = (): void => {
      ticks++;
      if (this.isConnected && ticks % (TOPOLOGY_REFRESH_MS / TOPOLOGY_RETRY_MS) !== 0) return;
      void topology.refresh().then((answered) => {
        // No node answered: the cluster is unreachable (reported once per outage).
        if (!answered) this.reportDown();
      });
    };
    this.topologyTimer = setInterval(poll, TOPOLOGY_RETRY_MS);
    this.topologyTimer.unref();
    poll();
  }

  private publisherHooks(): ConstructorParameters<typeof Publisher>[5] {
    return {
      state: () => this.refresh(),
      refused: (channel, err) =>
        this.fail(new DroppedMessageError(this.topicOf(channel), 1, `Redis refused a message: ${errorMessage(err)}`, err)),
      lost: (channel, count) =>
        this.fail(
          new DroppedMessageError(
            this.topicOf(channel),
            count,
            `the connection to Redis dropped with ${count} message(s) sent and not answered: they may not have reached the other nodes, and are not sent again (at most once)`,
          ),
        ),
    };
  }

  private subscriberHooks(): ConstructorParameters<typeof Subscriber>[2] {
    return {
      message: (channel, message) => this.onMessage(channel, message),
      state: () => this.refresh(),
      refused: (channel, err) =>
        this.fail(
          new WebSocketError(
            ErrorCode.BrokerUnavailable,
            `Redis refused the subscription to ${channel}: other nodes' messages on it are not received (${errorMessage(err)})`,
            {
              cause: err,
            },
          ),
        ),
    };
  }

  /** The hub has its first local subscriber for `topic`; resolves once Redis has confirmed the subscription. */
  subscribe(topic: string): Promise<void> {
    checkTopicEncodable(topic, 'Redis');
    return this.subscriber?.add(this.options.prefix + topic) ?? Promise.resolve();
  }

  /** The hub's last local subscriber for `topic` left. */
  unsubscribe(topic: string): void {
    this.subscriber?.remove(this.options.prefix + topic);
  }

  /** Sends a message to the other nodes, or buffers it while Redis is unreachable or behind. */
  publish(topic: string, payload: Buffer, binary: boolean): void {
    if (this.closed || !this.publisher) throw new WebSocketError(ErrorCode.HubClosed, 'the broker is closed');
    checkTopicEncodable(topic, 'Redis');
    if (this.publisher.publish(this.options.prefix + topic, this.codec!.encode(payload, binary))) return;
    const { maxBufferedMessages, maxBufferedBytes } = this.options;
    this.fail(
      new DroppedMessageError(
        topic,
        1,
        `Redis is ${this.publisher.live ? 'not keeping up' : 'unreachable'} and the publish buffer is full (${maxBufferedMessages} messages or ${maxBufferedBytes} bytes): a message to '${topic}' did not go to the other nodes`,
      ),
    );
  }

  /**
   * Closes its connections (`QUIT`). Messages still buffered are dropped, and reported to the
   * hub as one {@link DroppedMessageError}.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const dropped = this.publisher?.stop() ?? [];
    this.subscriber?.stop();
    if (dropped.length > 0) {
      this.report?.(
        new DroppedMessageError(
          this.topicOf(dropped[0]!.channel),
          dropped.length,
          `${dropped.length} message(s) buffered while Redis was unreachable did not go to the other nodes: the broker closed first`,
        ),
      );
    }
    this.isConnected = false;
    clearInterval(this.topologyTimer);
    this.topology?.stop();
    const conns =
      this.publisher instanceof ClusterPublisher && this.subscriber instanceof ClusterSubscriber
        ? [...this.publisher.connections(), ...this.subscriber.connections()]
        : [this.pubConn, this.subConn];
    await Promise.all(conns.map(quit));
  }

  private open(connectionName: string): Redis {
    const { client, connection } = this.options;
    const overrides: RedisOptions = { connectionName, ...CONNECTION_OVERRIDES };
    let conn: Redis;
    if (client) conn = client.duplicate(overrides);
    else if (typeof connection === 'string') conn = new Redis(connection, overrides);
    else conn = new Redis({ ...connection, ...overrides });
    conn.on('error', (err: unknown) => {
      this.lastError = err;
    });
    // Covers Redis being unreachable from the start too, when no connection ever came up.
    conn.on('close', () => this.reportDown());
    return conn;
  }

  /**
   * A connection to one cluster node, with the `connection` options. Unlike the standalone
   * connections, its 'close' is no outage by itself (the broker closes connections to nodes that
   * lost their slots); the publisher and subscriber say when the cluster is unreachable.
   */
  private openNode(address: NodeAddress, connectionName: string, extra: RedisOptions = {}): Redis {
    const base = typeof this.options.connection === 'object' ? this.options.connection : {};
    const conn = new Redis({ ...base, ...extra, host: address.host, port: address.port, connectionName, ...CONNECTION_OVERRIDES });
    conn.on('error', (err: unknown) => {
      this.lastError = err;
    });
    return conn;
  }

  private onMessage(channel: Buffer, message: Buffer): void {
    if (this.closed) return;
    const envelope = this.codec!.decodeForeign(message);
    if (!envelope) return;
    const name = channel.toString('utf8');
    if (!name.startsWith(this.options.prefix)) return;
    this.deliver!(name.slice(this.options.prefix.length), envelope.payload, envelope.binary);
  }

  private topicOf(channel: string): string {
    return channel.slice(this.options.prefix.length);
  }

  private refresh(): void {
    if (this.closed) return;
    // Standalone, both connections go to one server: hold publishes while either is down.
    if (this.publisher instanceof Publisher) this.publisher.hold(!this.subscriber!.synced);
    const now = this.publisher!.live && this.subscriber!.synced;
    if (now === this.isConnected) return;
    this.isConnected = now;
    if (now) {
      this.downReported = false;
      this.lastError = undefined;
      this.emit('connected');
    } else {
      this.reportDown();
      this.emit('disconnected');
    }
  }

  private reportDown(): void {
    if (this.downReported || this.closed) return;
    this.downReported = true;
    this.fail(brokerOutage('Redis', this.lastError, this.options));
  }

  private fail(err: WebSocketError): void {
    if (!this.closed) this.report?.(err);
  }
}

async function quit(conn: Redis | undefined): Promise<void> {
  if (!conn) return;
  if (conn.status !== 'ready') {
    conn.disconnect();
    return;
  }
  try {
    await conn.quit();
  } catch {
    conn.disconnect();
  }
}
