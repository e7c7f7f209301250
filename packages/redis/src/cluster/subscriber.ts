import type { Redis } from 'ioredis';
import { Subscriber, type SubscriberHooks } from '../subscriber.js';
import { isRedirect } from './redirect.js';
import { keySlot } from './slot.js';
import type { ClusterTopology, NodeAddress } from './topology.js';

interface Shard {
  conn: Redis;
  sub: Subscriber;
  /** Its connection dropped (or never came up) and it has not subscribed everything again since. */
  lost: boolean;
}

/**
 * Subscribing in a Redis Cluster: a shard channel can only be subscribed to on the master (or a
 * replica) of its hash slot's shard, so channels are grouped by the master that serves their
 * slot, with one subscriber connection (a standalone {@link Subscriber}) per master that has
 * subscribed channels.
 *
 * When the slot map changes (a replica was promoted, a slot migrated), every channel whose slot
 * has a new owner is unsubscribed where it was and subscribed on the new owner. Redis itself
 * tells the subscribers of a slot that moved away with an unsolicited `sunsubscribe` (ioredis
 * reports it as a `moved` event), and answers `SSUBSCRIBE` on a wrong node with `MOVED`: both
 * ask the topology for a fresh slot map.
 */
export class ClusterSubscriber {
  /** Channel → the master it is subscribed on (or waits to be); undefined while no map is known. */
  private readonly placed = new Map<string, string | undefined>();
  private readonly shards = new Map<string, Shard>();
  /** add() calls made before the slot map was known. */
  private readonly waiting: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly topology: ClusterTopology,
    private readonly open: (address: NodeAddress) => Redis,
    private readonly hooks: SubscriberHooks,
  ) {
    topology.on('change', () => this.place());
  }

  /** Every channel is subscribed on its slot's current master. */
  get synced(): boolean {
    if (!this.topology.known) return false;
    // A connection still opening for a newly subscribed shard is no outage; a lost one is.
    for (const shard of this.shards.values()) if (shard.lost) return false;
    for (const owner of this.placed.values()) if (owner === undefined) return false;
    return true;
  }

  /** Channels subscribed. */
  get size(): number {
    return this.placed.size;
  }

  /** The open subscriber connections, one per master with subscribed channels. */
  connections(): Redis[] {
    return [...this.shards.values()].map((s) => s.conn);
  }

  /** Resolves once the channel's master has acknowledged the subscription. */
  add(channel: string): Promise<void> {
    if (this.placed.has(channel) || this.stopped) return Promise.resolve();
    const owner = this.topology.owner(keySlot(channel));
    this.placed.set(channel, owner);
    if (owner === undefined) return new Promise((resolve) => this.waiting.push(resolve));
    return this.shard(owner).sub.add(channel);
  }

  remove(channel: string): void {
    if (!this.placed.has(channel)) return;
    const owner = this.placed.get(channel);
    this.placed.delete(channel);
    if (owner !== undefined) this.leave(owner, channel);
    this.hooks.state();
  }

  stop(): void {
    this.stopped = true;
    for (const resolve of this.waiting.splice(0)) resolve();
    for (const shard of this.shards.values()) shard.sub.stop();
  }

  /** Moves every channel to the master that now serves its slot. */
  private place(): void {
    if (this.stopped) return;
    const adds: Promise<void>[] = [];
    for (const [channel, was] of this.placed) {
      const owner = this.topology.owner(keySlot(channel));
      if (owner === was) continue;
      this.placed.set(channel, owner);
      if (was !== undefined) this.leave(was, channel);
      if (owner !== undefined) adds.push(this.shard(owner).sub.add(channel));
    }
    const waiters = this.waiting.splice(0);
    if (waiters.length > 0)
      void Promise.all(adds).then(() => {
        for (const resolve of waiters) resolve();
      });
    this.hooks.state();
  }

  /** Unsubscribes `channel` on `owner`; closes that connection when it has no channel left. */
  private leave(owner: string, channel: string): void {
    const shard = this.shards.get(owner);
    if (!shard) return;
    shard.sub.remove(channel);
    if (shard.sub.size > 0) return;
    this.shards.delete(owner);
    shard.sub.stop();
    shard.conn.disconnect();
  }

  private shard(owner: string): Shard {
    const existing = this.shards.get(owner);
    if (existing) return existing;
    const conn = this.open(this.topology.address(owner)!);
    const sub: Subscriber = new Subscriber(conn, true, {
      message: (channel, message) => this.hooks.message(channel, message),
      state: () => {
        if (sub.synced) shard.lost = false;
        this.hooks.state();
      },
      refused: (channel, err) => {
        // Subscribed on a node that no longer serves the slot: find where it lives now.
        if (isRedirect(err)) this.topology.refreshSoon();
        else this.hooks.refused(channel, err);
      },
    });
    // An unsolicited `sunsubscribe` (the slot migrated away) or a MOVED reply to SSUBSCRIBE.
    conn.on('moved', () => this.topology.refreshSoon());
    conn.on('close', () => {
      if (this.shards.get(owner) !== shard || this.stopped) return;
      shard.lost = true;
      this.hooks.state();
      this.topology.refreshSoon();
    });
    const shard: Shard = { conn, sub, lost: false };
    this.shards.set(owner, shard);
    conn.connect().catch(() => undefined);
    return shard;
  }
}
