import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { InFlight, overUnansweredBound } from '../in-flight.js';
import { Outbox, type Pending } from '../outbox.js';
import type { PublisherHooks } from '../publisher.js';
import { subscriberCounts } from '../publisher.js';
import { isRedirect } from './redirect.js';
import { keySlot } from './slot.js';
import type { ClusterTopology, NodeAddress } from './topology.js';

/** Poll interval while waiting for the other nodes to resubscribe after an outage. */
const RECOVERY_POLL_MS = 50;
/** Channels whose last subscriber count is remembered for that wait. */
const MAX_REMEMBERED_CHANNELS = 10_000;

/**
 * Publishing to a Redis Cluster: one connection per master, each message sent with `SPUBLISH`
 * to the master that serves its channel's hash slot (sharded pub/sub keeps a channel's messages
 * in its shard: https://redis.io/docs/latest/develop/interact/pubsub/#sharded-pubsub).
 *
 * Messages flow while every master of the slot map is reachable. Otherwise they wait in one
 * bounded buffer, in order, like the standalone publisher's. Order also holds across topology
 * changes: when the slot map changes or a master answers `MOVED`/`ASK` (the message ran nowhere),
 * publishing holds until every message in flight is answered, then sends the redirected messages
 * and the buffered ones, oldest first, to the slots' current owners. A message in flight when a
 * connection drops is not resent (it may have been delivered): at most once.
 */
export class ClusterPublisher {
  readonly mode = 'sharded' as const;
  private readonly conns = new Map<string, Redis>();
  /** Messages go straight to Redis. */
  private flowing = false;
  /** Held for order only (a redirect or topology change while every master was reachable). */
  private holding = false;
  private epoch = 0;
  private resumingEpoch = -1;
  private stopped = false;
  private readonly outbox: Outbox;
  /** Messages a master answered with a redirect, to send again first, in their order. */
  private redirected: Pending[] = [];
  private readonly reached = new Map<string, number>();
  /** Per connection, the messages sent on it and not answered; and their sum over all. */
  private readonly flights = new Map<Redis, InFlight>();
  private inflight = 0;
  private inflightBytes = 0;

  constructor(
    private readonly topology: ClusterTopology,
    private readonly open: (address: NodeAddress) => Redis,
    private readonly recoveryTimeoutMs: number,
    maxMessages: number,
    private readonly maxBytes: number,
    private readonly hooks: PublisherHooks,
  ) {
    this.outbox = new Outbox(maxMessages, maxBytes);
    topology.on('change', () => this.sync());
  }

  /** Messages are accepted for Redis: every master is reachable (possibly held for order a moment). */
  get live(): boolean {
    return this.flowing || this.holding;
  }

  /** Messages waiting for Redis. */
  get buffered(): number {
    return this.outbox.size + this.redirected.length;
  }

  /** The open connections, one per master. */
  connections(): Redis[] {
    return [...this.conns.values()];
  }

  /**
   * Sends `message` on `channel` to its slot's master, or buffers it.
   * @returns false when it had to be buffered and the buffer is full: the message is dropped.
   */
  publish(channel: string, message: Buffer): boolean {
    if (this.flowing && this.outbox.size === 0) {
      const conn = this.connFor(channel);
      if (conn?.status === 'ready' && !this.behind(message.length)) {
        this.send(conn, channel, message);
        return true;
      }
    }
    return this.outbox.push({ channel, message });
  }

  /** Stops for good; returns the messages that never went out. */
  stop(): Pending[] {
    this.stopped = true;
    this.epoch++;
    this.flowing = false;
    this.holding = false;
    const dropped = [...this.redirected, ...this.outbox.takeAll()];
    this.redirected = [];
    return dropped;
  }

  /** Opens a connection to every master of the map, closes those to nodes that no longer are one. */
  sync(): void {
    if (this.stopped) return;
    const masters = new Set(this.topology.masterKeys());
    for (const [key, conn] of this.conns) {
      if (masters.has(key)) continue;
      this.conns.delete(key);
      conn.disconnect();
    }
    for (const key of masters) {
      if (this.conns.has(key)) continue;
      const conn = this.open(this.topology.address(key)!);
      this.conns.set(key, conn);
      conn.on('ready', () => this.check());
      conn.on('close', () => {
        this.writeOff(conn);
        if (this.conns.get(key) === conn) this.pause(false);
      });
      conn.connect().catch(() => undefined);
    }
    // Owners may have changed under messages in flight: hold until they are answered.
    this.pause(true);
  }

  private connFor(channel: string): Redis | undefined {
    const owner = this.topology.owner(keySlot(channel));
    return owner === undefined ? undefined : this.conns.get(owner);
  }

  private behind(size: number): boolean {
    return overUnansweredBound(this.inflight, this.inflightBytes, size, this.maxBytes);
  }

  private send(conn: Redis, channel: string, message: Buffer): void {
    const size = message.length;
    let flight = this.flights.get(conn);
    if (!flight) this.flights.set(conn, (flight = new InFlight()));
    flight.sent(channel, size);
    this.inflight++;
    this.inflightBytes += size;
    conn.spublish(channel, message).then(
      (n) => {
        if (this.flights.get(conn) !== flight) return; // written off when the connection dropped
        this.answered(flight, size);
        this.remember(channel, Number(n));
        this.pump();
      },
      (err: unknown) => {
        if (this.flights.get(conn) !== flight) return;
        this.answered(flight, size);
        if (isRedirect(err) && !this.stopped) {
          // It ran nowhere: send it again, in order, once the slot map says where.
          this.redirected.push({ channel, message });
          this.pause(true);
          this.topology.refreshSoon();
        } else {
          this.hooks.refused(channel, err);
        }
        this.pump();
      },
    );
  }

  private answered(flight: InFlight, size: number): void {
    flight.answered(size);
    this.inflight--;
    this.inflightBytes -= size;
  }

  /**
   * `conn` closed: what was in flight on it is lost (see InFlight), so it no longer holds up
   * resuming, which waits for nothing to be in flight.
   */
  private writeOff(conn: Redis): void {
    const flight = this.flights.get(conn);
    if (!flight) return;
    this.flights.delete(conn);
    this.inflight -= flight.count;
    this.inflightBytes -= flight.bytes;
    if (flight.count > 0) this.hooks.lost(flight.first!, flight.count);
  }

  /** After an answer: send what waited while Redis was behind, or try to resume. */
  private pump(): void {
    if (!this.flowing) {
      this.check();
      return;
    }
    for (let next = this.outbox.peek(); next !== undefined && !this.behind(next.message.length); next = this.outbox.peek()) {
      const conn = this.connFor(next.channel);
      if (conn?.status !== 'ready') return;
      this.outbox.shift();
      this.send(conn, next.channel, next.message);
    }
  }

  /** Stops sending: `hold` for order (every master still reachable), otherwise an outage. */
  private pause(hold: boolean): void {
    if (this.stopped) return;
    this.epoch++;
    const before = this.live;
    this.holding = hold && before;
    this.flowing = false;
    if (this.live !== before) this.hooks.state();
    this.check();
  }

  private ready(): boolean {
    const masters = this.topology.masterKeys();
    return masters.length > 0 && masters.every((key) => this.conns.get(key)?.status === 'ready');
  }

  /** Resumes once every master is reachable and nothing is in flight. */
  private check(): void {
    if (this.stopped || this.flowing || this.inflight > 0 || this.resumingEpoch === this.epoch || !this.ready()) return;
    this.resumingEpoch = this.epoch;
    void this.resume(this.epoch);
  }

  private async resume(epoch: number): Promise<void> {
    try {
      await this.awaitSubscribers(epoch);
    } catch {
      // A connection dropped: its 'close' started over.
    }
    if (epoch !== this.epoch || this.stopped) return;
    if (this.inflight > 0 || !this.ready()) {
      this.resumingEpoch = -1; // the next answer or 'ready' tries again
      return;
    }
    // Synchronously, so that nothing published meanwhile can overtake what waited.
    const waiting = [...this.redirected, ...this.outbox.takeAll()];
    this.redirected = [];
    for (const { channel, message } of waiting) {
      const conn = this.connFor(channel);
      if (conn) this.send(conn, channel, message);
      else this.hooks.refused(channel, new Error('no master serves its hash slot'));
    }
    this.flowing = true;
    const was = this.holding;
    this.holding = false;
    if (!was) this.hooks.state();
  }

  private remember(channel: string, reached: number): void {
    this.reached.delete(channel);
    if (reached <= 0) return;
    this.reached.set(channel, reached);
    if (this.reached.size > MAX_REMEMBERED_CHANNELS) this.reached.delete(this.reached.keys().next().value!);
  }

  /**
   * After an outage or a move, the other nodes resubscribe on their own schedules (on the new
   * owner, after a failover or migration); wait until each waiting channel has as many
   * subscribers on its master (`PUBSUB SHARDNUMSUB`) as the last publish on it reached, or
   * `recoveryTimeout`.
   */
  private async awaitSubscribers(epoch: number): Promise<void> {
    if (this.recoveryTimeoutMs === 0) return;
    const channels = new Set([...this.redirected.map((p) => p.channel), ...this.outbox.channels()]);
    const byMaster = new Map<Redis, string[]>();
    for (const ch of channels) {
      const conn = this.connFor(ch);
      if (!conn || !this.reached.has(ch)) continue;
      byMaster.set(conn, [...(byMaster.get(conn) ?? []), ch]);
    }
    if (byMaster.size === 0) return;
    const deadline = performance.now() + this.recoveryTimeoutMs;
    for (;;) {
      let satisfied = true;
      for (const [conn, targets] of byMaster) {
        let reply: unknown;
        try {
          reply = await conn.call('PUBSUB', 'SHARDNUMSUB', ...targets);
        } catch (err) {
          if (conn.status !== 'ready') throw err;
          return; // PUBSUB denied (ACL): send without waiting
        }
        if (epoch !== this.epoch) return;
        const counts = subscriberCounts(reply);
        if (!targets.every((ch) => (counts.get(ch) ?? 0) >= this.reached.get(ch)!)) satisfied = false;
      }
      if (satisfied || performance.now() >= deadline) return;
      await sleep(RECOVERY_POLL_MS);
      if (epoch !== this.epoch) return;
    }
  }
}
