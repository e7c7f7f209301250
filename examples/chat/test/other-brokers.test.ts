/**
 * The chat as two processes whose messages cross through a broker alone (the `broker` option:
 * `REDIS_CLUSTER` or `NATS_URL`), each process keeping its own rooms' history and members: a
 * private Redis Cluster and a private nats-server, started by the test.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { NatsServer } from '../../../packages/nats/test/helpers/nats-server.js';
import { RedisCluster } from '../../../packages/redis/test/helpers/redis-cluster.js';
import type { ChatOptions } from '../src/app.js';
import { ChatProcess } from './chat-processes.js';
import { type ChatClient, collect, next, sendJson } from './clients.js';

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

/** Waits until `client` receives a chat message with `text`, skipping everything before it. */
async function until(client: ChatClient, text: string): Promise<void> {
  for (;;) {
    const msg = await next(client.ws);
    if (msg.type === 'message' && msg.text === text) return;
  }
}

/**
 * Two processes, a member on each in one room. A subscription reaches the broker a moment after
 * the join, so A says "ready" until B hears one; then a marker clears both inboxes.
 */
async function pair(options: ChatOptions): Promise<{ alice: ChatClient; bob: ChatClient; a: ChatProcess; b: ChatProcess }> {
  const [a, b] = await Promise.all([ChatProcess.start(options), ChatProcess.start(options)]);
  stops.push(
    () => a.stop(),
    () => b.stop(),
  );
  const alice = await a.join('lobby', 'alice');
  const bob = await b.join('lobby', 'bob');
  let heard = false;
  const bobHears = until(bob, 'ready').then(() => (heard = true));
  for (let i = 0; i < 100 && !heard; i++) {
    sendJson(alice.ws, { type: 'say', text: 'ready' });
    await Promise.race([bobHears, new Promise((r) => setTimeout(r, 100))]);
  }
  await bobHears;
  sendJson(alice.ws, { type: 'say', text: 'sync' });
  await Promise.all([until(alice, 'sync'), until(bob, 'sync')]);
  return { alice, bob, a, b };
}

async function exchange(alice: ChatClient, bob: ChatClient): Promise<void> {
  const n = 20;
  for (let i = 1; i <= n; i++) {
    sendJson(alice.ws, { type: 'say', text: `a${i}` });
    sendJson(bob.ws, { type: 'say', text: `b${i}` });
  }
  for (const member of [alice, bob]) {
    const got = await collect(member.ws, 'message', 2 * n);
    expect(got.filter((m) => m.name === 'alice').map((m) => m.text)).toEqual(Array.from({ length: n }, (_, i) => `a${i + 1}`));
    expect(got.filter((m) => m.name === 'bob').map((m) => m.text)).toEqual(Array.from({ length: n }, (_, i) => `b${i + 1}`));
  }
}

describe('two chat processes on a broker alone', () => {
  it('over NATS (NATS_URL): messages cross both ways, in each sender order, once', async () => {
    const nats = await NatsServer.start();
    stops.push(() => nats.stop());
    const { alice, bob, a, b } = await pair({ broker: { nats: nats.url }, rateLimit: { messages: 1000 } });
    await exchange(alice, bob);
    expect([...a.logged, ...b.logged]).toEqual([]);
  }, 60_000);

  it('over a Redis Cluster (REDIS_CLUSTER): messages cross both ways, in each sender order, once', async () => {
    const cluster = await RedisCluster.start();
    stops.push(() => cluster.stop());
    const { alice, bob, a, b } = await pair({ broker: { redisCluster: cluster.seeds }, rateLimit: { messages: 1000 } });
    await exchange(alice, bob);
    expect([...a.logged, ...b.logged]).toEqual([]);
  }, 90_000);
});
