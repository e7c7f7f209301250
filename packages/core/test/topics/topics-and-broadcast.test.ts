import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { connect, Hub, InMemoryBus, upgrade, type WebSocket, type UpgradeOptions } from '@wsup/core';
import { handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { TestInflater } from '../helpers/pmd.js';

/** A server where every connection subscribes to the topics named in `?topics=a,b`. */
async function topicServer(opts: UpgradeOptions = {}): Promise<TestServer & { conns: WebSocket[] }> {
  const conns: WebSocket[] = [];
  const srv = await startServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const ws = upgrade(req, res, opts);
    conns.push(ws);
    for (const t of (url.searchParams.get('topics') ?? '').split(',').filter(Boolean)) ws.subscribe(t);
    ws.on('message', (m) => {
      // "room:text" relays text to everyone else in the room.
      const [room, text] = String(m.data).split(':');
      ws.publish(room!, text!);
    });
  });
  return Object.assign(srv, { conns });
}

async function client(url: string, options: WsClient.ClientOptions = {}): Promise<WsClient & { inbox: string[] }> {
  const c = Object.assign(new WsClient(url, options), { inbox: [] as string[] });
  c.on('message', (d: Buffer, isBinary: boolean) => c.inbox.push(isBinary ? `bin:${d.toString('hex')}` : d.toString()));
  await once(c, 'open');
  return c;
}

describe('topics', () => {
  let srv: TestServer & { conns: WebSocket[] };
  beforeAll(async () => {
    srv = await topicServer();
  });
  afterAll(() => srv.close());

  it('publish reaches every subscriber of the topic once, and nobody else', async () => {
    const a = await client(`${srv.url}/?topics=news,sport`);
    const b = await client(`${srv.url}/?topics=news`);
    const c = await client(`${srv.url}/?topics=sport`);
    await expect.poll(() => srv.router.hub.subscriberCount('news')).toBe(2);
    expect(srv.router.hub.publish('news', 'headline')).toBe(2);
    srv.router.hub.publish('sport', Buffer.from([1, 2]));
    await expect.poll(() => [a.inbox, b.inbox, c.inbox]).toEqual([['headline', 'bin:0102'], ['headline'], ['bin:0102']]);
    for (const x of [a, b, c]) x.close();
  });

  it('ws.publish relays to everyone else in the room, skipping the sender', async () => {
    const a = await client(`${srv.url}/?topics=room1`);
    const b = await client(`${srv.url}/?topics=room1`);
    const c = await client(`${srv.url}/?topics=room2`);
    a.send('room1:hi from a');
    await expect.poll(() => b.inbox).toEqual(['hi from a']);
    await sleep(50);
    expect(a.inbox).toEqual([]);
    expect(c.inbox).toEqual([]);
    for (const x of [a, b, c]) x.close();
  });

  it('subscribe, unsubscribe and topics are idempotent and visible', async () => {
    const c = await client(`${srv.url}/`);
    await expect.poll(() => srv.conns.length).toBeGreaterThan(0);
    const ws = srv.conns.at(-1)!;
    ws.subscribe('x');
    ws.subscribe('x');
    ws.subscribe('y');
    expect([...ws.topics].sort()).toEqual(['x', 'y']);
    expect(srv.router.hub.subscriberCount('x')).toBe(1);
    ws.unsubscribe('x');
    ws.unsubscribe('x');
    expect([...ws.topics]).toEqual(['y']);
    expect(srv.router.hub.subscriberCount('x')).toBe(0);
    c.close();
  });

  it('connections leave all their topics when they close', async () => {
    const c = await client(`${srv.url}/?topics=leaving,other`);
    await expect.poll(() => srv.router.hub.subscriberCount('leaving')).toBe(1);
    c.close();
    await expect.poll(() => srv.router.hub.subscriberCount('leaving')).toBe(0);
    expect(srv.router.hub.subscriberCount('other')).toBe(0);
  });

  it('rejects bad topics and publishing after close with typed errors', async () => {
    const hub = new Hub({ maxTopicLength: 8 });
    for (const bad of ['', 42, undefined, 'x'.repeat(9)]) {
      expect(() => hub.publish(bad as string, 'x')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_TOPIC' }));
      expect(() => hub.subscriberCount(bad as string)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_TOPIC' }));
    }
    expect(() => hub.publish('ok', {} as never)).toThrow(TypeError);
    await hub.close();
    expect(() => hub.publish('ok', 'x')).toThrow(expect.objectContaining({ code: 'ERR_HUB_CLOSED' }));
  });
});

describe('frame once', () => {
  it('messages published to 50 subscribers that do not read are held once, not once per subscriber', async () => {
    const srv = await topicServer();
    const peers = await Promise.all(Array.from({ length: 50 }, () => RawPeer.open(srv.port, handshakeRequest('/?topics=big'))));
    for (const p of peers) p.socket.pause();
    await expect.poll(() => srv.router.hub.subscriberCount('big')).toBe(50);
    const before = process.memoryUsage().arrayBuffers;
    // 16 MiB each: more than the kernel's socket buffers take, so most of it waits in user space.
    for (let i = 0; i < 16; i++) srv.router.hub.publish('big', Buffer.alloc(1 << 20, i));
    await sleep(100);
    const waiting = srv.conns.reduce((sum, ws) => sum + ws.bufferedAmount, 0);
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(waiting).toBeGreaterThan(200 << 20); // counted per subscriber…
    expect(grown).toBeLessThan(48 << 20); // …but held once: 16 frames of 1 MiB plus the payloads
    for (const p of peers) p.destroy();
    await srv.close();
  });

  it('compresses once for subscribers without server context takeover, per connection otherwise, all correct', async () => {
    // Context takeover when the client allows it (no longer the default), so both kinds meet here.
    const srv = await topicServer({ compress: { threshold: 100, serverNoContextTakeover: false } });
    const text = JSON.stringify({ items: Array.from({ length: 100 }, (_, i) => ({ i, name: `name-${i}` })) });
    const nct = await Promise.all(
      Array.from({ length: 3 }, () =>
        RawPeer.open(
          srv.port,
          handshakeRequest('/?topics=t', { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_no_context_takeover' }),
        ),
      ),
    );
    const takeover = await RawPeer.open(srv.port, handshakeRequest('/?topics=t', { 'Sec-WebSocket-Extensions': 'permessage-deflate' }));
    const plain = await RawPeer.open(srv.port, handshakeRequest('/?topics=t'));
    const wsClient = await client(`${srv.url}/?topics=t`, { perMessageDeflate: true });
    const wsupClient = await connect(`${srv.url}/?topics=t`, { compress: true });
    await expect.poll(() => srv.router.hub.subscriberCount('t')).toBe(7);
    for (let round = 0; round < 2; round++) srv.router.hub.publish('t', text);

    const nctFrames = await Promise.all(nct.map(async (p) => [(await p.nextFrame())!, (await p.nextFrame())!]));
    for (const frames of nctFrames) {
      for (const f of frames) {
        expect(f.rsv).toBe(4);
        // The same bytes for everyone: compressed once.
        expect(f.payload.equals(nctFrames[0]![0]!.payload)).toBe(true);
        expect((await new TestInflater().inflate(f.payload)).toString()).toBe(text);
      }
    }
    const inflater = new TestInflater();
    const t1 = (await takeover.nextFrame())!;
    const t2 = (await takeover.nextFrame())!;
    expect((await inflater.inflate(t1.payload)).toString()).toBe(text);
    expect((await inflater.inflate(t2.payload)).toString()).toBe(text);
    expect(t2.payload.length).toBeLessThan(t1.payload.length); // its own context: the repeat is cheap
    const p1 = (await plain.nextFrame())!;
    expect(p1.rsv).toBe(0);
    expect(p1.payload.toString()).toBe(text);
    await expect.poll(() => wsClient.inbox).toEqual([text, text]);
    expect((await wsupClient.receive())?.data).toBe(text);
    expect((await wsupClient.receive())?.data).toBe(text);
    for (const p of [...nct, takeover, plain]) p.destroy();
    wsClient.close();
    await wsupClient.close();
    await srv.close();
  });
});

describe('slow subscribers', () => {
  it('a subscriber that never reads is closed at its own maxBuffered while the others get everything', async () => {
    const srv = await topicServer({ maxBuffered: 2 << 20, closeTimeout: 0.2 });
    const slow = await RawPeer.open(srv.port, handshakeRequest('/?topics=feed'));
    slow.socket.pause();
    const fast = await client(`${srv.url}/?topics=feed`);
    await expect.poll(() => srv.router.hub.subscriberCount('feed')).toBe(2);
    const slowWs = srv.conns[0]!;
    const chunk = Buffer.alloc(64 * 1024, 1);
    let received = 0;
    fast.removeAllListeners('message');
    fast.on('message', () => received++);
    for (let i = 0; i < 400; i++) {
      srv.router.hub.publish('feed', chunk);
      expect(slowWs.bufferedAmount).toBeLessThanOrEqual(2 << 20);
      await new Promise((r) => setImmediate(r));
    }
    await expect.poll(() => received, { timeout: 10_000 }).toBe(400);
    const info = await slowWs.closed;
    expect(info.code).toBe(1008);
    expect(info.error?.code).toBe('ERR_BUFFER_OVERFLOW');
    fast.close();
    slow.destroy();
    await srv.close();
  });
});

describe('brokers', () => {
  it('hubs on one bus reach each other’s subscribers once, in order', async () => {
    const bus = new InMemoryBus();
    const hubA = new Hub({ broker: bus.broker() });
    const hubB = new Hub({ broker: bus.broker() });
    const a = await topicServer({ hub: hubA });
    const b = await topicServer({ hub: hubB });
    const ca = await client(`${a.url}/?topics=chat`);
    const cb = await client(`${b.url}/?topics=chat`);
    await expect.poll(() => hubA.subscriberCount('chat') + hubB.subscriberCount('chat')).toBe(2);
    for (let i = 0; i < 100; i++) hubA.publish('chat', `m${i}`);
    const expected = Array.from({ length: 100 }, (_, i) => `m${i}`);
    await expect.poll(() => ca.inbox).toEqual(expected);
    await expect.poll(() => cb.inbox).toEqual(expected);
    ca.close();
    cb.close();
    await a.close();
    await b.close();
    await hubA.close();
    await hubB.close();
  });

  it('reports broker failures as error events and keeps delivering locally', async () => {
    const errors: string[] = [];
    const hub = new Hub({
      broker: {
        attach() {},
        subscribe() {},
        unsubscribe() {},
        publish() {
          throw new Error('down');
        },
        close() {},
      },
    });
    hub.on('error', (e) => errors.push(e.code));
    const srv = await topicServer({ hub });
    const c = await client(`${srv.url}/?topics=x`);
    await expect.poll(() => hub.subscriberCount('x')).toBe(1);
    expect(hub.publish('x', 'still local')).toBe(1);
    await expect.poll(() => c.inbox).toEqual(['still local']);
    expect(errors).toEqual(['ERR_BROKER_UNAVAILABLE']);
    c.close();
    await srv.close();
  });

  it('makes a broker failure nobody listens for a process warning, once, instead of a crash', async () => {
    const failing = {
      attach() {},
      subscribe() {},
      unsubscribe() {},
      publish(): never {
        throw new Error('down');
      },
      close() {},
    };
    const hub = new Hub({ broker: failing });
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (w: Error & { code?: string }): void => void (w.name === 'WsupHubWarning' && warnings.push(w));
    process.on('warning', onWarning);
    try {
      expect(hub.publish('x', 'one')).toBe(0);
      expect(hub.publish('x', 'two')).toBe(0);
      await expect.poll(() => warnings.length).toBe(1);
      await sleep(20);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.code).toBe('ERR_BROKER_UNAVAILABLE');
      expect(warnings[0]!.message).toContain('down');
    } finally {
      process.off('warning', onWarning);
      await hub.close();
    }
  });
});
