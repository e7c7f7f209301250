import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { detectMode, type PubSubMode } from './capabilities.js';
import { InFlight, overUnansweredBound } from './in-flight.js';
import { Outbox, type Pending } from './outbox.js';

/** What the publishing connection tells the broker. */
export interface PublisherHooks {
  /** `live` changed. */
  state(): void;
  /** Redis refused a message that was sent (it was not buffered, so it is lost). */
  refused(channel: string, err: unknown): void;
  /**
   * The connection dropped with `count` messages sent and not answered, the oldest on `channel`:
   * Redis may or may not have passed them on, and they are not sent again (at most once).
   */
  lost(channel: string, count: number): void;
}

/** Poll interval while waiting for the other nodes to resubscribe after an outage. */
const RECOVERY_POLL_MS = 50;
/** Channels whose last subscriber count is remembered for that wait. */
const MAX_REMEMBERED_CHANNELS = 10_000;

/**
 * The publishing connection: sends messages while Redis is reachable and buffers them, bounded,
 * while it is not; after a reconnect it sends what it buffered, in order, before anything newer.
 */
export class Publisher {
  private modeNow: PubSubMode | undefined;
  private isLive = false;
  /** Bumped on every connect and disconnect: async work of an older connection stops. */
  private epoch = 0;
  private stopped = false;
  private readonly outbox: Outbox;
  /** Channel → how many subscribed connections the last publish on it reached. */
  private readonly reached = new Map<string, number>();
  /** Messages sent on the current connection and not answered yet. */
  private flight = new InFlight();
  /**
   * The broker's subscriber connection is down: messages wait in the outbox although this
   * connection is up. Both connections go to the same server, so one dropping usually means the
   * other is about to; a message sent meanwhile could be lost in flight. Held from the start
   * until the broker sees that connection up.
   */
  private held = true;

  constructor(
    private readonly conn: Redis,
    private readonly sharded: 'auto' | boolean,
    private readonly recoveryTimeoutMs: number,
    maxMessages: number,
    private readonly maxBytes: number,
    private readonly hooks: PublisherHooks,
  ) {
    this.outbox = new Outbox(maxMessages, maxBytes);
    conn.on('ready', () => void this.onReady());
    conn.on('close', () => this.onClose());
  }

  /** Messages are going to Redis as they are published (not being buffered). */
  get live(): boolean {
    return this.isLive;
  }

  /** The pub/sub flavour of the current connection, once known. */
  get mode(): PubSubMode | undefined {
    return this.modeNow;
  }

  /** Messages waiting for Redis. */
  get buffered(): number {
    return this.outbox.size;
  }

  /**
   * Sends `message` on `channel`, or buffers it while Redis is unreachable or behind.
   * @returns false when it had to be buffered and the buffer is full: the message is dropped.
   */
  publish(channel: string, message: Buffer): boolean {
    // The status check covers the moment between the socket closing and the 'close' event.
    if (this.flowing() && this.outbox.size === 0 && !this.behind(message.length)) {
      this.send(channel, message);
      return true;
    }
    // Unreachable, or connected but behind on its answers (stalled, overloaded): wait in the
    // bounded buffer, behind whatever already waits there, so that the order holds.
    return this.outbox.push({ channel, message });
  }

  private behind(size: number): boolean {
    return overUnansweredBound(this.flight.count, this.flight.bytes, size, this.maxBytes);
  }

  /** Messages go straight to Redis (when nothing waits before them). */
  private flowing(): boolean {
    return this.isLive && !this.held && this.conn.status === 'ready';
  }

  /** Messages sent to Redis that it has not answered yet. */
  get unanswered(): number {
    return this.flight.count;
  }

  /**
   * Holds messages in the outbox while the broker's other connection is down (`true`), or lets
   * them go again, oldest first (`false`).
   */
  hold(held: boolean): void {
    if (held === this.held) return;
    this.held = held;
    if (this.outbox.size > 0 && this.flowing()) this.catchUp();
  }

  /** Stops for good; returns the messages that never went out. */
  stop(): Pending[] {
    this.stopped = true;
    this.epoch++;
    this.isLive = false;
    return this.outbox.takeAll();
  }

  private send(channel: string, message: Buffer): void {
    const reply = this.modeNow === 'sharded' ? this.conn.spublish(channel, message) : this.conn.publish(channel, message);
    const size = message.length;
    const flight = this.flight;
    flight.sent(channel, size);
    reply.then(
      (n) => {
        if (flight !== this.flight) return; // written off when the connection dropped
        this.answered(size);
        this.remember(channel, Number(n));
      },
      (err: unknown) => {
        if (flight !== this.flight) return;
        this.answered(size);
        this.hooks.refused(channel, err);
      },
    );
  }

  private answered(size: number): void {
    this.flight.answered(size);
    if (this.outbox.size > 0 && this.flowing()) this.catchUp();
  }

  /** Sends what waited while Redis was behind, oldest first, as far as the bounds allow. */
  private catchUp(): void {
    for (let next = this.outbox.peek(); next !== undefined && !this.behind(next.message.length); next = this.outbox.peek()) {
      this.outbox.shift();
      this.send(next.channel, next.message);
    }
  }

  private remember(channel: string, reached: number): void {
    this.reached.delete(channel);
    if (reached <= 0) return;
    this.reached.set(channel, reached);
    if (this.reached.size > MAX_REMEMBERED_CHANNELS) this.reached.delete(this.reached.keys().next().value!);
  }

  private async onReady(): Promise<void> {
    if (this.stopped) return;
    const epoch = ++this.epoch;
    try {
      this.modeNow = this.sharded === 'auto' ? await detectMode(this.conn) : this.sharded ? 'sharded' : 'classic';
      if (epoch !== this.epoch) return;
      await this.awaitSubscribers(epoch);
    } catch {
      return; // the connection dropped again; the next 'ready' starts over
    }
    if (epoch !== this.epoch || this.conn.status !== 'ready') return;
    // Synchronously, so that nothing published meanwhile can overtake the buffered messages.
    // While held, hold() sends them once the other connection is back.
    if (!this.held) for (const { channel, message } of this.outbox.takeAll()) this.send(channel, message);
    this.isLive = true;
    this.hooks.state();
  }

  private onClose(): void {
    this.epoch++;
    const lost = this.flight;
    this.flight = new InFlight();
    if (lost.count > 0) this.hooks.lost(lost.first!, lost.count);
    if (!this.isLive) return;
    this.isLive = false;
    this.hooks.state();
  }

  /**
   * After an outage the other nodes reconnect on their own schedules; a buffered message sent
   * before a node has resubscribed would miss it. So wait until each buffered channel has as
   * many subscribed connections as the last publish on it reached, or `recoveryTimeout`.
   */
  private async awaitSubscribers(epoch: number): Promise<void> {
    if (this.recoveryTimeoutMs === 0 || this.outbox.size === 0) return;
    const targets = [...this.outbox.channels()].filter((ch) => this.reached.has(ch));
    if (targets.length === 0) return;
    const deadline = performance.now() + this.recoveryTimeoutMs;
    const command = this.modeNow === 'sharded' ? 'SHARDNUMSUB' : 'NUMSUB';
    for (;;) {
      let reply: unknown;
      try {
        reply = await this.conn.call('PUBSUB', command, ...targets);
      } catch (err) {
        if (this.conn.status !== 'ready') throw err;
        return; // PUBSUB denied (ACL): send without waiting
      }
      if (epoch !== this.epoch) return;
      const counts = subscriberCounts(reply);
      if (targets.every((ch) => (counts.get(ch) ?? 0) >= this.reached.get(ch)!)) return;
      if (performance.now() >= deadline) return;
      await sleep(RECOVERY_POLL_MS);
      if (epoch !== this.epoch) return;
    }
  }
}

/** `PUBSUB NUMSUB`'s answer (a flat `[channel, count, …]` list, or a map in RESP3) as a Map. */
export function subscriberCounts(reply: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), Number(reply[i + 1]));
  } else if (reply instanceof Map) {
    for (const [k, v] of reply) out.set(String(k), Number(v));
  } else if (reply && typeof reply === 'object') {
    for (const [k, v] of Object.entries(reply)) out.set(k, Number(v));
  }
  return out;
}
