/**
 * Three node processes (each an HTTP server with handleUpgrades and a hub on a RedisBroker) on one
 * real redis-server, driven by WebSocket clients connected to each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, WebSocket } from '@wsup/core';
import { NodeProcess, publishVia, stalledSubscriber, subscribe, type Inbox } from './helpers/nodes.js';
import { eventually } from './helpers/eventually.js';
import { RedisServer } from './helpers/redis-server.js';

const MAX_BUFFERED = 1 << 20;

let redis: RedisServer;
let nodes: NodeProcess[];
let a: NodeProcess, b: NodeProcess, c: NodeProcess;
const open: { close(): unknown }[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  nodes = await Promise.all([0, 1, 2].map(() => NodeProcess.start({ redisPort: redis.port, maxBuffered: MAX_BUFFERED })));
  [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
}, 30_000);

afterAll(async () => {
  for (const x of open) x.close();
  await Promise.all((nodes ?? []).map((n) => n.stop()));
  await redis?.stop();
});

async function sub(node: NodeProcess, topics: string[], id = '', summarize?: (m: Message) => string): Promise<Inbox> {
  const inbox = await subscribe(node.url, topics, id, summarize);
  open.push(inbox.ws);
  return inbox;
}

async function pub(node: NodeProcess, topic: string): Promise<WebSocket> {
  const ws = await publishVia(node.url, topic);
  open.push(ws);
  return ws;
}

describe('three node processes', () => {
  it('use sharded pub/sub on Redis 7', () => {
    for (const n of nodes) expect(n.events.find((e) => e.type === 'connected')).toEqual({ type: 'connected', mode: 'sharded' });
  });

  it('a publish on any node reaches every subscriber on every node exactly once, and nobody else', async () => {
    const subs = await Promise.all(nodes.flatMap((n) => [sub(n, ['fanout']), sub(n, ['fanout', 'elsewhere'])]));
    const others = await Promise.all(nodes.map((n) => sub(n, ['elsewhere'])));
    await eventually(() => redis.subscribers('wsup:fanout')).toBe(3);
    await eventually(() => redis.subscribers('wsup:elsewhere')).toBe(3);
    const [pa, pb, pc] = await Promise.all(nodes.map((n) => pub(n, 'fanout')));
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    pa!.send('from a');
    pb!.send(bytes);
    pc!.send('from c: ünïcødé ✓');
    const expected = ['from a', `bin:${bytes.toString('hex')}`, 'from c: ünïcødé ✓'].sort();
    await eventually(() => subs.every((s) => s.messages.length >= 3)).toBe(true);
    // A copy coming back late (a node hearing its own message from Redis) would precede these:
    // each node's Redis connection gets messages in the order Redis handled the publishes, and
    // the barriers were published after every subscriber had the first three.
    pa!.send('barrier a');
    pb!.send('barrier b');
    await eventually(() => subs.every((s) => s.messages.includes('barrier a') && s.messages.includes('barrier b'))).toBe(true);
    for (const s of subs) {
      expect(s.messages.filter((m) => !m.startsWith('barrier')).sort()).toEqual(expected);
      expect(s.messages).toHaveLength(5);
    }
    const [ea, eb] = await Promise.all([pub(a, 'elsewhere'), pub(b, 'elsewhere')]);
    ea.send('barrier a');
    eb.send('barrier b');
    await eventually(() => others.every((s) => s.messages.length >= 2)).toBe(true);
    for (const s of others) expect(s.messages.sort()).toEqual(['barrier a', 'barrier b']);
  });

  it('per-publisher order holds over 10,000 messages from each of three publishers at once', async () => {
    const N = 10_000;
    const subs = await Promise.all(nodes.map((n) => sub(n, ['order'])));
    await eventually(() => redis.subscribers('wsup:order')).toBe(3);
    const pubs = await Promise.all(nodes.map((n) => pub(n, 'order')));
    pubs.forEach((p, k) => {
      for (let i = 0; i < N; i++) p.send(`${k}:${i}`);
    });
    await eventually(() => subs.map((s) => s.messages.length), { timeout: 30_000 }).toEqual([3 * N, 3 * N, 3 * N]);
    for (const s of subs) {
      for (let k = 0; k < 3; k++) {
        const seq = s.messages.filter((m) => m.startsWith(`${k}:`)).map((m) => Number(m.slice(2)));
        expect(seq).toHaveLength(N);
        expect(seq.every((v, i) => v === i)).toBe(true);
      }
    }
  });

  it('a node holds a Redis subscription exactly while it has local subscribers', async () => {
    const channel = 'wsup:churn';
    expect(await redis.subscribers(channel)).toBe(0);
    const b1 = await sub(b, ['churn'], 'b1');
    const b2 = await sub(b, ['churn'], 'b2');
    await eventually(() => redis.subscribers(channel)).toBe(1); // one per node, not per client
    expect(await redis.channels('wsup:churn*')).toEqual([channel]);
    const c1 = await sub(c, ['churn'], 'c1');
    await eventually(() => redis.subscribers(channel)).toBe(2);
    const pa = await pub(a, 'churn');

    // One of b's two subscribers leaves: b keeps the subscription.
    b1.ws.close();
    await b.until((e) => e.type === 'closed' && e.id === 'b1');
    pa.send('one');
    await eventually(() => [b2.messages, c1.messages]).toEqual([['one'], ['one']]);
    expect(await redis.subscribers(channel)).toBe(2);

    // The last one leaves: b drops it, c keeps it.
    b2.ws.close();
    await eventually(() => redis.subscribers(channel)).toBe(1);
    pa.send('two');
    await eventually(() => c1.messages).toEqual(['one', 'two']);

    c1.ws.close();
    await eventually(() => redis.subscribers(channel)).toBe(0);
    expect(await redis.channels('wsup:churn*')).toEqual([]);

    // Back again.
    const b3 = await sub(b, ['churn'], 'b3');
    await eventually(() => redis.subscribers(channel)).toBe(1);
    pa.send('three');
    await eventually(() => b3.messages).toEqual(['three']);

    // Many subscribers joining and leaving at once, three rounds, on two nodes.
    for (let round = 0; round < 3; round++) {
      const crowd = await Promise.all([...Array(10).keys()].map((i) => sub(i % 2 ? b : c, ['churn2'])));
      await eventually(() => redis.subscribers('wsup:churn2')).toBe(2);
      for (const s of crowd) s.ws.close();
      await eventually(() => redis.subscribers('wsup:churn2')).toBe(0);
    }
    const last = await sub(c, ['churn2']);
    await eventually(() => redis.subscribers('wsup:churn2')).toBe(1);
    const pb = await pub(b, 'churn2');
    pb.send('four');
    await eventually(() => last.messages).toEqual(['four']);
  });

  it('a subscriber that never reads does not slow the others, and is closed at its maxBuffered', async () => {
    const SIZE = 16 * 1024;
    // A batch (256 KiB) stays well under maxBuffered (1 MiB), so that a fast subscriber, which
    // has at most one batch outstanding, never reaches it however slowly its kernel buffers grow.
    const BATCH = 16;
    // Fast subscribers record only each message's sequence number.
    const seqOf = (m: Message): string => String((m.data as Buffer).readUInt32BE(0));
    const fast = await Promise.all([sub(a, ['flood'], '', seqOf), sub(b, ['flood'], '', seqOf), sub(c, ['flood'], '', seqOf)]);
    const stalled = await stalledSubscriber(b.port, ['flood'], 'stalled');
    open.push({ close: () => stalled.destroy() });
    await eventually(() => redis.subscribers('wsup:flood')).toBe(3);
    const pa = await pub(a, 'flood');

    // Publish in batches, each once every fast subscriber has the previous one, until node b has
    // failed the stalled one (the kernel's socket buffers take several MiB before its own buffer
    // starts to fill), then one more batch. Bounded: 128 MiB.
    let sent = 0;
    const overflowed = (): boolean => b.events.some((e) => e.type === 'ws-error' && e.id === 'stalled');
    let extra = 1;
    while (extra > 0 && sent < 8192) {
      if (overflowed()) extra--;
      for (let i = 0; i < BATCH; i++) {
        const msg = Buffer.alloc(SIZE, sent & 0xff);
        msg.writeUInt32BE(sent++, 0);
        pa.send(msg);
      }
      await eventually(() => fast.every((s) => s.messages.length === sent), { interval: 5 }).toBe(true);
    }
    expect(b.events.find((e) => e.type === 'ws-error' && e.id === 'stalled')).toEqual({
      type: 'ws-error',
      id: 'stalled',
      code: 'ERR_BUFFER_OVERFLOW',
    });
    // It closes with 1008 once its close timeout has passed (it does not read the close frame).
    expect(await b.until((e) => e.type === 'closed' && e.id === 'stalled')).toEqual({
      type: 'closed',
      id: 'stalled',
      code: 1008,
      error: 'ERR_BUFFER_OVERFLOW',
    });
    const all = Array.from({ length: sent }, (_, i) => String(i));
    for (const s of fast) expect(s.messages).toEqual(all);
    // Node b still holds the topic for its fast subscriber.
    expect(await redis.subscribers('wsup:flood')).toBe(3);
  });
});
