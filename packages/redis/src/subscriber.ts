import type { Redis } from 'ioredis';
import { detectMode, type PubSubMode } from './capabilities.js';

/** What the subscriber connection tells the broker. */
export interface SubscriberHooks {
  message(channel: Buffer, message: Buffer): void;
  /** `synced` changed. */
  state(): void;
  /** Redis refused to subscribe to `channel` while connected. */
  refused(channel: string, err: unknown): void;
}

/**
 * The connection in subscriber mode. It holds exactly the channels of topics with local
 * subscribers: subscribes when the hub reports a topic's first subscriber, unsubscribes when the
 * last one leaves, and after every reconnect subscribes again to all of them (the client's own
 * resubscription is off, since the set may have changed during the outage).
 */
export class Subscriber {
  private readonly channels = new Set<string>();
  private modeNow: PubSubMode | undefined;
  /** Subscription commands go out as the set changes. */
  private live = false;
  private isSynced = false;
  private epoch = 0;
  private stopped = false;
  /** add() calls made while disconnected, resolved once every channel is subscribed again. */
  private readonly syncWaiters: (() => void)[] = [];

  constructor(
    private readonly conn: Redis,
    private readonly sharded: 'auto' | boolean,
    private readonly hooks: SubscriberHooks,
  ) {
    conn.on('ready', () => void this.onReady());
    conn.on('close', () => this.onClose());
    conn.on('messageBuffer', (channel: Buffer, message: Buffer) => hooks.message(channel, message));
    conn.on('smessageBuffer', (channel: Buffer, message: Buffer) => hooks.message(channel, message));
  }

  /** Redis has acknowledged every subscription since the last (re)connect. */
  get synced(): boolean {
    return this.isSynced;
  }

  /** Channels subscribed (or to subscribe once connected). */
  get size(): number {
    return this.channels.size;
  }

  /** Resolves once Redis has acknowledged the subscription (a refusal is reported through the hooks). */
  add(channel: string): Promise<void> {
    if (this.channels.has(channel)) return Promise.resolve();
    this.channels.add(channel);
    if (this.live) return this.subscribe(channel, this.epoch);
    // Subscribed with all the others once connected.
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  remove(channel: string): void {
    if (!this.channels.delete(channel)) return;
    if (!this.live) return;
    const reply = this.modeNow === 'sharded' ? this.conn.sunsubscribe(channel) : this.conn.unsubscribe(channel);
    // A failure means the connection dropped; the new one starts without the channel anyway.
    reply.catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
    this.epoch++;
    this.live = false;
    this.isSynced = false;
  }

  private async subscribe(channel: string, epoch: number): Promise<void> {
    try {
      await (this.modeNow === 'sharded' ? this.conn.ssubscribe(channel) : this.conn.subscribe(channel));
    } catch (err) {
      if (epoch === this.epoch && this.conn.status === 'ready' && this.channels.has(channel)) this.hooks.refused(channel, err);
    }
  }

  private async onReady(): Promise<void> {
    if (this.stopped) return;
    const epoch = ++this.epoch;
    try {
      this.modeNow = this.sharded === 'auto' ? await detectMode(this.conn) : this.sharded ? 'sharded' : 'classic';
    } catch {
      return; // the connection dropped again; the next 'ready' starts over
    }
    if (epoch !== this.epoch) return;
    // Live first, then the current set, all in this turn: changes made while the subscribe
    // commands are in flight follow them on the same connection, in order.
    this.live = true;
    await Promise.all([...this.channels].map((ch) => this.subscribe(ch, epoch)));
    if (epoch !== this.epoch) return;
    this.isSynced = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
    this.hooks.state();
  }

  private onClose(): void {
    this.epoch++;
    this.live = false;
    if (!this.isSynced) return;
    this.isSynced = false;
    this.hooks.state();
  }
}
