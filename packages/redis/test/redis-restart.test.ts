/**
 * Redis killed and started again on the same port under three node processes: local delivery
 * goes on, the brokers reconnect and resubscribe, what was published meanwhile arrives in order,
 * and past the buffer's bound the hub reports each dropped message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from '@wsup/core';
import { NodeProcess, publishVia, subscribe, type Inbox } from './helpers/nodes.js';
import { eventually } from './helpers/eventually.js';
import { RedisServer } from './helpers/redis-server.js';

const BOUND = 100;

let redis: RedisServer;
let nodes: NodeProcess[];
let a: NodeProcess, b: NodeProcess;
const open: WebSocket[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  nodes = await Promise.all([0, 1, 2].map(() => NodeProcess.start({ redisPort: redis.port, maxBufferedMessages: BOUND })));
  [a, b] = nodes as [NodeProcess, NodeProcess];
}, 30_000);

afterAll(async () => {
  for (const ws of open) ws.close();
  await Promise.all((nodes ?? []).map((n) => n.stop()));
  await redis?.stop();
});

async function subscribers(topic: string): Promise<Inbox[]> {
  const subs = await Promise.all(nodes.map((n) => subscribe(n.url, [topic])));
  open.push(...subs.map((s) => s.ws));
  await eventually(() => redis.subscribers(`wsup:${topic}`)).toBe(3);
  return subs;
}

async function publisher(node: NodeProcess, topic: string): Promise<WebSocket> {
  const ws = await publishVia(node.url, topic);
  open.push(ws);
  return ws;
}

/** Kills Redis and waits until every node has noticed (the nth outage). */
async function outage(nth: number): Promise<void> {
  await redis.kill();
  await Promise.all(nodes.map((n) => n.until(() => n.count('disconnected') >= nth)));
}

/** Starts Redis again and waits until every node is connected again (the nth time since start). */
async function recovery(nth: number): Promise<void> {
  await redis.restart();
  await Promise.all(nodes.map((n) => n.until(() => n.count('connected') >= nth + 1)));
}

const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('Redis restarted under three nodes', () => {
  it('local delivery goes on; the brokers resubscribe and send what was published meanwhile, in order', async () => {
    const [sa, sb, sc] = await subscribers('live');
    const pa = await publisher(a, 'live');
    pa.send('before');
    await eventually(() => [sa, sb, sc].map((s) => s!.messages)).toEqual([['before'], ['before'], ['before']]);

    await outage(1);
    // Every node told its hub that Redis was gone, once.
    for (const n of nodes) {
      expect(n.events.filter((e) => e.type === 'hub-error')).toEqual([
        { type: 'hub-error', code: 'ERR_BROKER_UNAVAILABLE', dropped: false },
      ]);
    }
    const during = range('during-', 50);
    for (const m of during) pa.send(m);
    // Node a's own subscriber gets them now, with Redis down.
    await eventually(() => sa!.messages).toEqual(['before', ...during]);
    expect(redis.running).toBe(false);

    await recovery(1);
    await eventually(() => redis.subscribers('wsup:live')).toBe(3);
    await eventually(() => [sb!.messages, sc!.messages]).toEqual([
      ['before', ...during],
      ['before', ...during],
    ]);

    // Publishing works again from every node.
    pa.send('after a');
    (await publisher(b, 'live')).send('after b');
    const all = ['before', ...during, 'after a', 'after b'];
    await eventually(() => [sa, sb, sc].map((s) => [...s!.messages].sort())).toEqual([all.sort(), all.sort(), all.sort()]);
    for (const n of nodes) expect(n.events.filter((e) => e.type === 'hub-error' && e.dropped)).toEqual([]);
  });

  it(`past the bound (${BOUND} messages) a publish is dropped with a typed hub error; the rest arrive`, async () => {
    const [sa, sb, sc] = await subscribers('bounded');
    const pa = await publisher(a, 'bounded');
    pa.send('before');
    await eventually(() => [sa, sb, sc].map((s) => s!.messages)).toEqual([['before'], ['before'], ['before']]);

    await outage(2);
    const during = range('during-', BOUND + 20);
    for (const m of during) pa.send(m);
    await eventually(() => sa!.messages).toEqual(['before', ...during]);
    await eventually(() => a.events.filter((e) => e.type === 'hub-error' && e.dropped)).toHaveLength(20);
    for (const e of a.events.filter((e) => e.type === 'hub-error' && e.dropped)) {
      expect(e).toEqual({ type: 'hub-error', code: 'ERR_BROKER_UNAVAILABLE', dropped: true, topic: 'bounded' });
    }

    await recovery(2);
    // The first BOUND went out once Redis was back; the last 20 never did (had they, they would
    // come before 'after', published later by the same node).
    pa.send('after');
    const expected = ['before', ...during.slice(0, BOUND), 'after'];
    await eventually(() => [sb!.messages, sc!.messages]).toEqual([expected, expected]);
    await eventually(() => sa!.messages).toEqual(['before', ...during, 'after']);
  });
});
