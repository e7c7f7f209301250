/**
 * RedisBroker in one process: hubs on their own brokers and WebSocket servers, a real
 * redis-server, and a gate (TCP relay) to cut one node off from Redis.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub, type WebSocketError } from '@wsup/core';
import { DroppedMessageError, RedisBroker, type RedisBrokerOptions } from '@wsup/redis';
import { Redis } from 'ioredis';
import { topicServer } from './fixtures/topic-server.js';
import { eventually } from './helpers/eventually.js';
import { Gate } from './helpers/gate.js';
import { publishVia, subscribe, type Inbox } from './helpers/nodes.js';
import { RedisServer } from './helpers/redis-server.js';

let redis: RedisServer;
const cleanup: (() => unknown)[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
  await redis?.stop();
});

interface LocalNode {
  broker: RedisBroker;
  hub: Hub;
  errors: WebSocketError[];
  url: string;
  sub(topics: string[]): Promise<Inbox>;
}

/** A hub on a RedisBroker with a WebSocket server, in this process. */
async function node(options: RedisBrokerOptions = {}, port = redis.port, waitConnected = true): Promise<LocalNode> {
  const broker = new RedisBroker({ connection: { host: '127.0.0.1', port, retryStrategy: () => 50 }, ...options });
  const hub = new Hub({ broker });
  const errors: WebSocketError[] = [];
  hub.on('error', (err) => errors.push(err));
  const server = await topicServer(hub);
  cleanup.push(async () => {
    server.close();
    await hub.close();
  });
  if (waitConnected && !broker.connected) await once(broker, 'connected');
  const url = `ws://127.0.0.1:${server.port}`;
  return {
    broker,
    hub,
    errors,
    url,
    sub: async (topics) => {
      const inbox = await subscribe(url, topics);
      cleanup.push(() => inbox.ws.close());
      return inbox;
    },
  };
}

describe('RedisBroker', () => {
  it('carries payloads byte for byte: every byte value, empty messages, multi-byte text', async () => {
    const [x, y] = await Promise.all([node(), node()]);
    const s = await y.sub(['bytes']);
    await eventually(() => redis.subscribers('wsup:bytes')).toBe(1);
    const p = await publishVia(x.url, 'bytes');
    cleanup.push(() => p.close());
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    p.send(all);
    p.send(Buffer.alloc(0));
    p.send('');
    p.send('héllo ✓ 𝄞');
    const sent = [`bin:${all.toString('hex')}`, 'bin:', '', 'héllo ✓ 𝄞'];
    await eventually(() => s.messages).toEqual(sent);
    x.hub.publish('bytes', new Uint8Array([1, 2, 3]));
    x.hub.publish('bytes', 'text sent as binary', true);
    await eventually(() => s.messages).toEqual([...sent, 'bin:010203', `bin:${Buffer.from('text sent as binary').toString('hex')}`]);
  });

  it('names channels prefix + topic; brokers with another prefix do not hear them', async () => {
    const [x, y, z, w] = await Promise.all([
      node({ prefix: 'app1:' }),
      node({ prefix: 'app1:' }),
      node({ prefix: 'app2:' }),
      node({ prefix: 'app2:' }),
    ]);
    expect(x.broker.prefix).toBe('app1:');
    const [sy, sz] = await Promise.all([y.sub(['news']), z.sub(['news'])]);
    await eventually(() => redis.channels('app*')).toEqual(['app1:news', 'app2:news']);
    x.hub.publish('news', 'for app1');
    await eventually(() => sy.messages).toEqual(['for app1']);
    // Had z heard x's message, it would have come first: Redis had sent it before this one.
    w.hub.publish('news', 'for app2');
    await eventually(() => sz.messages).toEqual(['for app2']);
  });

  it('uses sharded pub/sub on Redis 7, and classic pub/sub when told to', async () => {
    const [auto, x, y] = await Promise.all([node(), node({ sharded: false }), node({ sharded: false })]);
    expect(auto.broker.mode).toBe('sharded');
    expect(x.broker.mode).toBe('classic');
    const s = await y.sub(['classic']);
    await eventually(() => redis.subscribers('wsup:classic', 'classic')).toBe(1);
    expect(await redis.subscribers('wsup:classic', 'sharded')).toBe(0);
    x.hub.publish('classic', 'over PUBLISH');
    await eventually(() => s.messages).toEqual(['over PUBLISH']);
  });

  it('works over RESP2 too, where the subscriber connection is in subscriber mode', async () => {
    const resp2 = { connection: { host: '127.0.0.1', port: redis.port, protocol: 2 as const, retryStrategy: () => 50 } };
    const [x, y] = await Promise.all([node(resp2), node(resp2)]);
    const first = await y.sub(['resp2']);
    await eventually(() => redis.subscribers('wsup:resp2')).toBe(1);
    // Leaving every channel takes the connection out of subscriber mode; joining again re-enters it.
    first.ws.close();
    await eventually(() => redis.subscribers('wsup:resp2')).toBe(0);
    const again = await y.sub(['resp2']);
    await eventually(() => redis.subscribers('wsup:resp2')).toBe(1);
    x.hub.publish('resp2', Buffer.from([0, 1, 2]));
    await eventually(() => again.messages).toEqual(['bin:000102']);
  });

  it('ignores messages on its channels that are not from a wsup broker', async () => {
    const [x, y] = await Promise.all([node(), node()]);
    const s = await y.sub(['foreign']);
    await eventually(() => redis.subscribers('wsup:foreign')).toBe(1);
    const other = redis.client();
    for (const junk of [
      'hello',
      Buffer.from([1]),
      Buffer.from([1, 0, 5, 0x61]),
      Buffer.from([2, 0, 1, 0x61, 0x62]),
      Buffer.from([1, 0, 0, 0x61]),
    ]) {
      expect(await other.spublish('wsup:foreign', junk)).toBe(1);
    }
    x.hub.publish('foreign', 'real');
    await eventually(() => s.messages).toEqual(['real']);
  });

  it("makes its connections from an existing client's options and leaves that client alone", async () => {
    const client = new Redis({ host: '127.0.0.1', port: redis.port });
    cleanup.push(() => client.disconnect());
    expect(await client.ping()).toBe('PONG');
    const [x, y] = await Promise.all([node({ client, connection: 'redis://127.0.0.1:1' }), node()]);
    const s = await y.sub(['dup']);
    await eventually(() => redis.subscribers('wsup:dup')).toBe(1);
    x.hub.publish('dup', 'via a duplicate');
    await eventually(() => s.messages).toEqual(['via a duplicate']);
    await x.hub.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
  });

  it('close() quits both connections and reports messages still buffered', async () => {
    const x = await node();
    const admin = redis.client();
    const names = async (): Promise<string[]> =>
      ((await admin.call('CLIENT', 'LIST')) as string).match(/name=wsup-\w+-\w+/g)?.filter((n) => n.endsWith(x.hub.nodeId)) ?? [];
    expect((await names()).sort()).toEqual([`name=wsup-pub-${x.hub.nodeId}`, `name=wsup-sub-${x.hub.nodeId}`]);
    await x.hub.close();
    expect(x.broker.connected).toBe(false);
    await eventually(names).toEqual([]);

    // A broker cut off from Redis with messages waiting: closing drops them, and says so.
    const gate = await Gate.to(redis.port);
    cleanup.push(() => gate.close());
    const cut = await node({}, gate.port, false);
    cut.hub.publish('t', 'one');
    cut.hub.publish('t', 'two');
    expect(cut.broker.bufferedMessages).toBe(2);
    await cut.hub.close();
    const dropped = cut.errors.filter((e) => e instanceof DroppedMessageError);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatchObject({ code: 'ERR_BROKER_UNAVAILABLE', topic: 't', count: 2 });
  });

  it('cut off from Redis: says so once, buffers within maxBufferedBytes, then resubscribes and sends in order', async () => {
    const gate = await Gate.to(redis.port);
    cleanup.push(() => gate.close());
    const size = 100;
    // Room for three messages of `size` bytes (each also carries a 19-byte header), not four.
    const x = await node({ maxBufferedBytes: 3 * (size + 19) + 10 }, gate.port, false);
    const y = await node();
    const sy = await y.sub(['cut']);
    await eventually(() => x.errors.length).toBeGreaterThan(0);
    expect(x.errors).toHaveLength(1);
    expect(x.errors[0]).toMatchObject({ code: 'ERR_BROKER_UNAVAILABLE' });
    expect(x.errors[0]).not.toBeInstanceOf(DroppedMessageError);

    // Local subscribers still get everything; at most three go to Redis later.
    const sx = await x.sub(['cut']);
    const kept = await x.sub(['kept']);
    const gone = await x.sub(['gone']);
    gone.ws.close();
    await eventually(() => x.hub.subscriberCount('gone')).toBe(0);
    const payloads = ['a', 'b', 'c', 'd'].map((ch) => ch.repeat(size));
    for (const p of payloads) expect(x.hub.publish('cut', p)).toBe(1);
    expect(x.broker.bufferedMessages).toBe(3);
    const dropped = x.errors.filter((e) => e instanceof DroppedMessageError);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatchObject({ code: 'ERR_BROKER_UNAVAILABLE', topic: 'cut', count: 1 });
    await eventually(() => sx.messages).toEqual(payloads);

    gate.open();
    await once(x.broker, 'connected');
    expect(x.broker.bufferedMessages).toBe(0);
    await eventually(() => sy.messages).toEqual(payloads.slice(0, 3));
    // Subscribed to what has local subscribers now, not to what had them during the outage.
    expect(await redis.subscribers('wsup:kept')).toBe(1);
    expect(await redis.subscribers('wsup:gone')).toBe(0);
    y.hub.publish('kept', 'welcome back');
    await eventually(() => kept.messages).toEqual(['welcome back']);
    expect(x.errors).toHaveLength(2);
  });

  it('connected to a Redis that does not answer: holds maxBufferedBytes unanswered and as much buffered, drops the rest, then catches up in order', async () => {
    const stalled = await RedisServer.start();
    cleanup.push(() => stalled.stop());
    const size = 64 * 1024;
    // Room for four messages of `size` bytes (each also carries a 19-byte header), not five.
    const x = await node({ maxBufferedBytes: 4 * (size + 19) + 10 }, stalled.port);
    const y = await node({}, stalled.port);
    const sy = await y.sub(['slow']);
    await eventually(() => stalled.subscribers('wsup:slow')).toBe(1);
    const publisher = (x.broker as unknown as { publisher: { unanswered: number } }).publisher;

    stalled.pause();
    const payloads = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, '0')}:`.padEnd(size, 'x'));
    try {
      for (const p of payloads) x.hub.publish('slow', p);
      // 40 × 64 KiB for a server that answers nothing: four sent and unanswered, four waiting
      // in the buffer, the other 32 dropped, each with a typed error.
      expect(publisher.unanswered).toBe(4);
      expect(x.broker.bufferedMessages).toBe(4);
      const dropped = x.errors.filter((e) => e instanceof DroppedMessageError);
      expect(dropped).toHaveLength(32);
      expect(dropped[0]).toMatchObject({ code: 'ERR_BROKER_UNAVAILABLE', topic: 'slow', count: 1 });
      expect(dropped[0]!.message).toContain('not keeping up');
    } finally {
      stalled.resume();
    }
    // Once Redis runs again the eight kept messages arrive in order, then newer ones.
    await eventually(() => sy.messages.length).toBe(8);
    expect(sy.messages.map((m) => m.slice(0, 3))).toEqual(payloads.slice(0, 8).map((m) => m.slice(0, 3)));
    await eventually(() => publisher.unanswered).toBe(0);
    expect(x.broker.bufferedMessages).toBe(0);
    x.hub.publish('slow', 'after');
    await eventually(() => sy.messages.at(-1)).toBe('after');
    expect(sy.messages).toHaveLength(9);
  });

  it('the connection drops with messages unanswered: one typed report of how many, and publishing flows again once it is back', async () => {
    const gate = await Gate.to(redis.port);
    cleanup.push(() => gate.close());
    gate.open();
    const x = await node({}, gate.port);
    const y = await node();
    const sy = await y.sub(['unanswered']);
    await eventually(() => redis.subscribers('wsup:unanswered')).toBe(1);
    const publisher = (x.broker as unknown as { publisher: { unanswered: number } }).publisher;

    gate.stall();
    for (const m of ['a', 'b', 'c']) x.hub.publish('unanswered', m);
    expect(publisher.unanswered).toBe(3);
    const back = once(x.broker, 'connected');
    gate.shut();
    gate.open();
    await back;
    // Redis never saw them, but the node cannot know that: reported as lost, not sent again.
    const lost = x.errors.filter((e) => e instanceof DroppedMessageError);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ code: 'ERR_BROKER_UNAVAILABLE', topic: 'unanswered', count: 3 });
    expect(lost[0]!.message).toContain('not answered');
    // ioredis abandoned them on reconnecting; they no longer count against the bound.
    expect(publisher.unanswered).toBe(0);
    x.hub.publish('unanswered', 'after');
    await eventually(() => sy.messages).toEqual(['after']);
  });

  it('its subscriber connection drops alone: publishes wait until it is back, then go out in order', async () => {
    const x = await node();
    const y = await node();
    const sy = await y.sub(['held']);
    await eventually(() => redis.subscribers('wsup:held')).toBe(1);
    const list = String(await redis.client().call('CLIENT', 'LIST'));
    const id = /id=(\d+) .*name=(\S+)/g;
    const sub = [...list.matchAll(id)].find((m) => m[2] === `wsup-sub-${x.hub.nodeId}`)?.[1];
    expect(sub).toBeDefined();

    // Both connections go to one server: when one drops, the other may be going too, and a
    // message sent on it could be lost in flight. So nothing goes out until both are back.
    const bufferedWhenDown: number[] = [];
    x.broker.once('disconnected', () => {
      x.hub.publish('held', 'during');
      bufferedWhenDown.push(x.broker.bufferedMessages);
    });
    const back = once(x.broker, 'connected');
    await redis.client().call('CLIENT', 'KILL', 'ID', sub!);
    await back;
    expect(bufferedWhenDown).toEqual([1]);
    expect(x.broker.bufferedMessages).toBe(0);
    x.hub.publish('held', 'after');
    await eventually(() => sy.messages).toEqual(['during', 'after']);
  });

  it('keeps topics that UTF-8 cannot carry (unpaired surrogates) local, with a typed hub error', async () => {
    const x = await node();
    expect(x.hub.publish('bad\uD800topic', 'x')).toBe(0);
    expect(x.errors).toHaveLength(1);
    expect(x.errors[0]).toMatchObject({ code: 'ERR_INVALID_TOPIC' });
    x.hub.publish('fine \uD834\uDD1E topic', 'x');
    expect(x.errors).toHaveLength(1);
  });

  it('serves one hub', async () => {
    const broker = new RedisBroker({ connection: { host: '127.0.0.1', port: redis.port } });
    const hub = new Hub({ broker });
    expect(() => new Hub({ broker })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    await hub.close();
  });

  it('rejects bad options with typed errors', () => {
    const bad: unknown[] = [
      'redis://x',
      { prefix: 42 },
      { maxBufferedMessages: 0 },
      { maxBufferedMessages: 1.5 },
      { maxBufferedBytes: -1 },
      { recoveryTimeout: -1 },
      { recoveryTimeout: Number.NaN },
      { sharded: 'yes' },
      { client: {} },
      { connection: 42 },
    ];
    for (const options of bad) {
      expect(() => new RedisBroker(options as RedisBrokerOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_OPTION' }),
      );
    }
  });
});
