/**
 * RedisBroker on a real Redis Cluster (three masters, one replica each) started by the test:
 * delivery between hubs for topics on every shard, subscriptions on the right master, and
 * delivery resuming after a graceful failover, a killed master and a slot migration.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub, type WebSocketError } from '@wsup/core';
import { DroppedMessageError, RedisBroker, type RedisBrokerOptions } from '@wsup/redis';
import { keySlot } from '../src/cluster/slot.js';
import { topicServer } from './fixtures/topic-server.js';
import { eventually } from './helpers/eventually.js';
import { subscribe, type Inbox } from './helpers/nodes.js';
import { RedisCluster } from './helpers/redis-cluster.js';

let cluster: RedisCluster;
const cleanup: (() => unknown)[] = [];

beforeAll(async () => {
  cluster = await RedisCluster.start();
}, 60_000);

afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
  await cluster?.stop();
});

interface LocalNode {
  broker: RedisBroker;
  hub: Hub;
  errors: WebSocketError[];
  sub(topics: string[]): Promise<Inbox>;
}

/** A hub on a RedisBroker on the cluster, with a WebSocket server, in this process. */
async function node(options: RedisBrokerOptions = {}): Promise<LocalNode> {
  const broker = new RedisBroker({ cluster: cluster.seeds, connection: { retryStrategy: () => 100 }, ...options });
  const hub = new Hub({ broker });
  const errors: WebSocketError[] = [];
  hub.on('error', (err) => errors.push(err));
  const server = await topicServer(hub);
  cleanup.push(async () => {
    server.close();
    await hub.close();
  });
  if (!broker.connected) await once(broker, 'connected');
  const url = `ws://127.0.0.1:${server.port}`;
  return {
    broker,
    hub,
    errors,
    sub: async (topics) => {
      const inbox = await subscribe(url, topics);
      cleanup.push(() => inbox.ws.close());
      return inbox;
    },
  };
}

/** `n` topics (named `<name>-<i>`) on each master, keyed by the master's port. */
async function topicsPerMaster(name: string, n: number): Promise<Map<number, string[]>> {
  const masters = await cluster.masters();
  const slots = await cluster.slots();
  const out = new Map<number, string[]>(masters.map((m) => [m, []]));
  for (let i = 0; [...out.values()].some((ts) => ts.length < n); i++) {
    const topic = `${name}-${i}`;
    const slot = keySlot(`wsup:${topic}`);
    const owner = slots.find((r) => r.start <= slot && slot <= r.end)!.master;
    if (out.get(owner)!.length < n) out.get(owner)!.push(topic);
  }
  return out;
}

/** The messages of `inbox` starting with `tag`, as numbers: `tag3` → 3. */
function numbered(inbox: Inbox, tag: string): number[] {
  return inbox.messages.filter((m) => m.startsWith(tag)).map((m) => Number(m.slice(tag.length)));
}

/** Strictly increasing: each publisher's order, nothing twice. */
function expectOrderedOnce(seq: number[]): void {
  expect(seq).toEqual([...new Set(seq)].sort((a, b) => a - b));
}

/**
 * Publishes `<tag><k>` for k = 0, 1, … on `topic` until `inbox` got one of them: delivery has
 * resumed. Bounded by eventually's timeout.
 */
async function publishUntilDelivered(from: LocalNode, topic: string, inbox: Inbox, tag: string): Promise<void> {
  let k = 0;
  await eventually(
    () => {
      from.hub.publish(topic, `${tag}${k++}`);
      return numbered(inbox, tag).length > 0;
    },
    { timeout: 30_000, interval: 50 },
  );
  expectOrderedOnce(numbered(inbox, tag));
}

describe('RedisBroker on a Redis Cluster', () => {
  it('computes the hash slot of a channel as CLUSTER KEYSLOT does, hash tags included', async () => {
    const admin = cluster.admin(cluster.ports[0]!);
    for (const key of ['wsup:chat', 'wsup:{room}:1', 'wsup:{}x', 'wsup:é✓𝄞', 'a{b}c{d}', '{', '']) {
      expect(keySlot(key), key).toBe(Number(await admin.call('CLUSTER', 'KEYSLOT', key)));
    }
  });

  it('delivers between hubs exactly once, in each publisher order, for topics on all three shards; each subscription sits on its slot master', async () => {
    const [x, y, z] = await Promise.all([node(), node(), node()]);
    expect(x.broker.mode).toBe('sharded');
    const perMaster = await topicsPerMaster('spread', 2);
    expect(perMaster.size).toBe(3);
    const topics = [...perMaster.values()].flat();
    const [sy, sz] = await Promise.all([y.sub(topics), z.sub(topics)]);
    for (const [master, ts] of perMaster) {
      for (const t of ts) {
        await eventually(() => cluster.shardSubscribers(master, `wsup:${t}`)).toBe(2);
        for (const other of perMaster.keys()) {
          if (other !== master) expect(await cluster.shardSubscribers(other, `wsup:${t}`)).toBe(0);
        }
      }
    }
    const N = 50;
    for (let i = 0; i < N; i++) for (const t of topics) x.hub.publish(t, `${t}:${i}`);
    // z publishes too: y gets them over Redis, z's own subscriber locally (never twice).
    for (let i = 0; i < N; i++) z.hub.publish(topics[0]!, `z:${i}`);
    const expected = (t: string): string[] => Array.from({ length: N }, (_, i) => `${t}:${i}`);
    for (const inbox of [sy, sz]) {
      await eventually(() => inbox.messages.length).toBe(topics.length * N + N);
      for (const t of topics) expect(inbox.messages.filter((m) => m.startsWith(`${t}:`))).toEqual(expected(t));
      expect(inbox.messages.filter((m) => m.startsWith('z:'))).toEqual(Array.from({ length: N }, (_, i) => `z:${i}`));
    }
    expect([...x.errors, ...y.errors, ...z.errors].map((e) => e.message)).toEqual([]);
  });

  it('after a graceful CLUSTER FAILOVER, subscribes on the promoted replica and delivery resumes', async () => {
    const [x, y] = await Promise.all([node(), node()]);
    const [master, [topic]] = [...(await topicsPerMaster('graceful', 1))][0]! as [number, string[]];
    const s = await y.sub([topic!]);
    await eventually(() => cluster.shardSubscribers(master, `wsup:${topic}`)).toBe(1);
    x.hub.publish(topic!, 'before');
    await eventually(() => s.messages).toEqual(['before']);

    const replica = await cluster.replicaOf(master);
    await cluster.failover(replica);
    await publishUntilDelivered(x, topic!, s, 'after-');
    await eventually(() => cluster.shardSubscribers(replica, `wsup:${topic}`)).toBe(1);
    expect(s.messages[0]).toBe('before');
  });

  it('after a master is killed and its replica promoted, delivers what was buffered meanwhile (up to the bound, once, in order) and resumes', async () => {
    const BOUND = 5;
    const [x, y] = await Promise.all([node({ maxBufferedMessages: BOUND }), node()]);
    const [master, [topic]] = [...(await topicsPerMaster('killed', 1))][1]! as [number, string[]];
    const s = await y.sub([topic!]);
    await eventually(() => cluster.shardSubscribers(master, `wsup:${topic}`)).toBe(1);
    x.hub.publish(topic!, 'before');
    await eventually(() => s.messages).toEqual(['before']);
    const replica = await cluster.replicaOf(master);

    await cluster.kill(master);
    await eventually(() => x.broker.connected).toBe(false);
    const errorsBefore = x.errors.length;
    for (let i = 0; i < 20; i++) x.hub.publish(topic!, `during-${i}`);
    const dropped = x.errors.slice(errorsBefore).filter((e) => e instanceof DroppedMessageError);
    expect(dropped.length).toBe(20 - BOUND);
    expect(dropped.every((e) => e.code === 'ERR_BROKER_UNAVAILABLE')).toBe(true);
    expect(x.broker.bufferedMessages).toBe(BOUND);

    await cluster.settled((slots) => slots.some((r) => r.master === replica));
    await eventually(() => x.broker.connected, { timeout: 30_000 }).toBe(true);
    await eventually(() => cluster.shardSubscribers(replica, `wsup:${topic}`)).toBe(1);
    // Sent once y had resubscribed on the promoted replica: all of them, in order.
    await eventually(() => numbered(s, 'during-')).toEqual([0, 1, 2, 3, 4]);
    await publishUntilDelivered(x, topic!, s, 'after-');
    expect(numbered(s, 'during-')).toEqual([0, 1, 2, 3, 4]);
    expect(x.errors.some((e) => e.code === 'ERR_BROKER_UNAVAILABLE' && !(e instanceof DroppedMessageError))).toBe(true);
  });

  it('after a slot migration, resubscribes where the slot now lives and delivery continues', async () => {
    const [x, y] = await Promise.all([node(), node()]);
    const [[master, [topic]], [target]] = [...(await topicsPerMaster('migrated', 1))] as [number, string[]][];
    const channel = `wsup:${topic}`;
    const s = await y.sub([topic!]);
    await eventually(() => cluster.shardSubscribers(master!, channel)).toBe(1);
    x.hub.publish(topic!, 'before');
    await eventually(() => s.messages).toEqual(['before']);

    await cluster.migrateSlot(keySlot(channel), target!);
    await eventually(() => cluster.shardSubscribers(target!, channel)).toBe(1);
    expect(await cluster.shardSubscribers(master!, channel)).toBe(0);
    await publishUntilDelivered(x, topic!, s, 'after-');
    expect([...x.errors, ...y.errors].filter((e) => e instanceof DroppedMessageError)).toEqual([]);
  });
});
