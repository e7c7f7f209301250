import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { upgrade, type WebSocket, type Message, type UpgradeOptions } from '@wsup/core';
import { closePayload, handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

type Route = (ws: WebSocket) => void | Promise<void>;

let srv: TestServer;
const routes = new Map<string, { opts?: UpgradeOptions; run: Route }>();
const serverSockets = new Map<string, WebSocket>();

beforeAll(async () => {
  srv = await startServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const route = routes.get(url.pathname);
    if (!route) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const ws = upgrade(req, res, route.opts);
    serverSockets.set(url.searchParams.get('id') ?? '', ws);
    await route.run(ws);
  });
});
afterAll(() => srv.close());

let n = 0;
function route(run: Route, opts?: UpgradeOptions): string {
  const path = `/r${n++}`;
  routes.set(path, { run, opts });
  return path;
}

/** A ws client whose messages are recorded from the start, before 'open' is even awaited. */
async function client(path: string): Promise<WsClient & { inbox: [Buffer, boolean][] }> {
  const ws = Object.assign(new WsClient(srv.url + path), { inbox: [] as [Buffer, boolean][] });
  ws.on('message', (d: Buffer, isBinary: boolean) => ws.inbox.push([d, isBinary]));
  await once(ws, 'open');
  return ws;
}

async function inbox(ws: WsClient & { inbox: [Buffer, boolean][] }, count: number): Promise<[Buffer, boolean][]> {
  await expect.poll(() => ws.inbox.length).toBeGreaterThanOrEqual(count);
  return ws.inbox.slice(0, count);
}

function collect(ws: WsClient, count: number): Promise<string[]> {
  const got: string[] = [];
  return new Promise((resolve) => {
    ws.on('message', (d) => {
      got.push(String(d));
      if (got.length === count) resolve(got);
    });
  });
}

describe('receiving', () => {
  it('buffers messages from the first frame while the handler is busy', async () => {
    const path = route(async (ws) => {
      await sleep(50); // the handler does something else first
      for (let i = 0; i < 3; i++) {
        const m = await ws.receive();
        ws.send(`echo ${m?.data}`);
      }
    });
    const c = await client(path);
    const got = collect(c, 3);
    c.send('a');
    c.send('b');
    c.send('c');
    expect(await got).toEqual(['echo a', 'echo b', 'echo c']);
    c.close();
  });

  it('receive(timeout) rejects with ERR_TIMEOUT and the connection stays usable', async () => {
    const path = route(async (ws) => {
      const err = await ws.receive(0.05).catch((e: unknown) => e);
      ws.send(`timeout: ${(err as { code: string }).code}`);
      const m = await ws.receive(5);
      ws.send(`then: ${m?.data}`);
    });
    const c = await client(path);
    const first = await once(c, 'message');
    expect(String(first[0])).toBe('timeout: ERR_TIMEOUT');
    const second = once(c, 'message');
    c.send('hello');
    expect(String((await second)[0])).toBe('then: hello');
    c.close();
  });

  it('waiting readers get messages in the order they asked, and one that timed out is skipped', async () => {
    const path = route(async (ws) => {
      const iterator = ws[Symbol.asyncIterator]();
      const first = ws.receive();
      const timedOut = ws.receive(0.05).catch((e: { code: string }) => e.code);
      const step = iterator.next();
      const last = ws.receive(5);
      ws.send(`timed out: ${await timedOut}`);
      const [a, b, c] = await Promise.all([first, step, last]);
      ws.send(`${a?.data} ${(b.value as { data: string }).data} ${c?.data}`);
      // The connection's end reaches every reader still waiting: a step gets done, receive() null.
      const [end, nothing] = await Promise.all([iterator.next(), ws.receive()]);
      results.push(end.done, nothing);
    });
    const results: unknown[] = [];
    const c = await client(path);
    expect(String((await once(c, 'message'))[0])).toBe('timed out: ERR_TIMEOUT');
    const got = once(c, 'message');
    c.send('one');
    c.send('two');
    c.send('three');
    expect(String((await got)[0])).toBe('one two three');
    c.close();
    await expect.poll(() => results).toEqual([true, null]);
  });

  it('for await ends when the connection closes, and receive() then gives null', async () => {
    const results: unknown[] = [];
    const path = route(async (ws) => {
      const seen: string[] = [];
      for await (const m of ws) seen.push(m.data as string);
      results.push(seen, await ws.receive());
    });
    const c = await client(path);
    c.send('x');
    c.send('y');
    c.close(1000);
    await once(c, 'close');
    await expect.poll(() => results.length).toBe(2);
    expect(results).toEqual([['x', 'y'], null]);
  });

  it('delivers queued messages to a message listener attached later, then live ones', async () => {
    const path = route(async (ws) => {
      await sleep(50);
      ws.on('message', (m) => ws.send(`event ${m.data}`));
    });
    const c = await client(path);
    const got = collect(c, 3);
    c.send('1');
    c.send('2');
    await sleep(100);
    c.send('3');
    expect(await got).toEqual(['event 1', 'event 2', 'event 3']);
    c.close();
  });

  it('gives text as strings and binary as Buffers', async () => {
    const kinds: [string, boolean][] = [];
    const path = route(async (ws) => {
      for await (const m of ws) {
        kinds.push([typeof m.data === 'string' ? 'string' : Buffer.isBuffer(m.data) ? 'buffer' : '?', m.binary]);
        if (kinds.length === 2) ws.close();
      }
    });
    const c = await client(path);
    c.send('text');
    c.send(Buffer.from([1, 2]));
    await once(c, 'close');
    expect(kinds).toEqual([
      ['string', false],
      ['buffer', true],
    ]);
  });

  it('in frame mode yields each frame with fin, decoding text split inside a code point', async () => {
    const frames: Message[] = [];
    const path = route(
      async (ws) => {
        for await (const m of ws) {
          frames.push(m);
          if (m.fin && frames.length > 1) ws.close();
        }
      },
      { frames: true },
    );
    const c = await client(path);
    const euro = Buffer.from('a€b');
    c.send(euro.subarray(0, 2), { binary: false, fin: false });
    c.send(euro.subarray(2), { binary: false, fin: true });
    await once(c, 'close');
    expect(frames.map((f) => [f.data, f.fin, f.binary])).toEqual([
      ['a', false, false],
      ['€b', true, false],
    ]);
  });
});

describe('sending', () => {
  it('sends strings as text and bytes of every kind as binary, with the flag overriding', async () => {
    const path = route((ws) => {
      ws.send('text');
      ws.send(Buffer.from('buf'));
      ws.send(new Uint8Array([1, 2, 3]));
      ws.send(new Uint8Array([9, 4, 5, 6]).subarray(1));
      ws.send(new Uint16Array([0x0201]).buffer);
      ws.send(new DataView(new Uint8Array([7, 8]).buffer));
      ws.send('as binary', true);
      ws.send(Buffer.from('as text'), false);
    });
    const c = await client(path);
    const got = (await inbox(c, 8)).map(([d, isBinary]) => [isBinary ? d.toString('hex') : d.toString(), isBinary]);
    expect(got).toEqual([
      ['text', false],
      [Buffer.from('buf').toString('hex'), true],
      ['010203', true],
      ['040506', true],
      ['0102', true],
      ['0708', true],
      [Buffer.from('as binary').toString('hex'), true],
      ['as text', false],
    ]);
    c.close();
  });

  it('rejects bytes sent as text that are not UTF-8, and non-data values', async () => {
    const errors: unknown[] = [];
    const path = route((ws) => {
      try {
        ws.send(Buffer.from([0xff]), false);
      } catch (e) {
        errors.push((e as { code: string }).code);
      }
      try {
        ws.send(42 as never);
      } catch (e) {
        errors.push((e as Error).name);
      }
      ws.close();
    });
    const c = await client(path);
    await once(c, 'close');
    expect(errors).toEqual(['ERR_INVALID_UTF8', 'TypeError']);
  });

  it('streams a message in fragments with sendFrame, pings interleaved', async () => {
    const path = route((ws) => {
      ws.sendFrame(false, 1, 'Hello');
      ws.sendFrame(true, 9, 'ping in between');
      ws.sendFrame(false, 0, ', ');
      ws.sendFrame(true, 0, 'world');
      ws.sendFrame(false, 2, Buffer.from([1]));
      ws.sendFrame(true, 0, Buffer.from([2]));
    });
    const c = await client(path);
    const got = (await inbox(c, 2)).map(([d, isBinary]) => (isBinary ? d : d.toString()));
    expect(got).toEqual(['Hello, world', Buffer.from([1, 2])]);
    c.close();
  });

  it('refuses sendFrame sequences that would corrupt the stream', async () => {
    const codes: string[] = [];
    const path = route((ws) => {
      const attempt = (f: () => void) => {
        try {
          f();
          codes.push('ok');
        } catch (e) {
          codes.push((e as { code: string }).code);
        }
      };
      attempt(() => ws.sendFrame(true, 0, 'no message to continue'));
      attempt(() => ws.sendFrame(false, 1, 'start'));
      attempt(() => ws.send('interleaved message'));
      attempt(() => ws.sendFrame(false, 2, 'second start'));
      attempt(() => ws.sendFrame(false, 9, 'fragmented ping'));
      attempt(() => ws.sendFrame(true, 3, 'reserved'));
      attempt(() => ws.sendFrame(true, 8, 'close'));
      attempt(() => ws.sendFrame(true, 0, 'end'));
      ws.close();
    });
    const c = await client(path);
    await once(c, 'close');
    expect(codes).toEqual([
      'ERR_FRAGMENTED_SEND_IN_PROGRESS',
      'ok',
      'ERR_FRAGMENTED_SEND_IN_PROGRESS',
      'ERR_FRAGMENTED_SEND_IN_PROGRESS',
      'ERR_INVALID_OPTION',
      'ERR_INVALID_OPTION',
      'ERR_INVALID_OPTION',
      'ok',
    ]);
  });

  it('counts queued bytes in bufferedAmount until they are written', async () => {
    const amounts: number[] = [];
    const path = route(async (ws) => {
      amounts.push(ws.bufferedAmount);
      ws.send('x'.repeat(1000));
      amounts.push(ws.bufferedAmount);
      await sleep(20);
      amounts.push(ws.bufferedAmount);
    });
    const c = await client(path);
    await inbox(c, 1);
    await expect.poll(() => amounts.length).toBe(3);
    expect(amounts[0]).toBe(0);
    expect(amounts[1]).toBe(1004);
    expect(amounts[2]).toBe(0);
    c.close();
  });
});

describe('control frames', () => {
  it('ping and pong payloads over 125 bytes throw RangeError', async () => {
    const errs: string[] = [];
    const path = route((ws) => {
      for (const f of [() => ws.ping(Buffer.alloc(126)), () => ws.pong('x'.repeat(126))]) {
        try {
          f();
        } catch (e) {
          errs.push((e as Error).name);
        }
      }
      ws.ping(Buffer.alloc(125));
      ws.close();
    });
    const c = await client(path);
    await once(c, 'close');
    expect(errs).toEqual(['RangeError', 'RangeError']);
  });

  it('emits ping and pong events and answers pings automatically', async () => {
    const events: string[] = [];
    const path = route((ws) => {
      const done = () => events.length === 2 && void ws.close();
      ws.on('ping', (d) => {
        events.push(`ping ${d}`);
        setImmediate(done); // after the automatic pong has been queued
      });
      ws.on('pong', (d) => {
        events.push(`pong ${d}`);
        setImmediate(done);
      });
      ws.ping('from server');
    });
    const pongs: string[] = [];
    const c = new WsClient(srv.url + path);
    c.on('pong', (d) => pongs.push(String(d)));
    const closed = once(c, 'close');
    await once(c, 'open');
    c.ping('from client');
    await closed;
    expect(pongs).toEqual(['from client']);
    expect(events.sort()).toEqual(['ping from client', 'pong from server']);
  });

  it('autoPong: false leaves pongs to the application', async () => {
    const path = route(
      (ws) => {
        ws.on('ping', () => ws.send('saw ping'));
      },
      { autoPong: false },
    );
    const c = await client(path);
    let ponged = false;
    c.on('pong', () => (ponged = true));
    c.ping('p');
    expect(String((await once(c, 'message'))[0])).toBe('saw ping');
    expect(ponged).toBe(false);
    c.close();
  });
});

describe('closing', () => {
  it('close(code, reason) completes the handshake with a ws client', async () => {
    let info: unknown;
    const path = route(async (ws) => {
      info = await ws.close(4000, 'server says bye');
    });
    const c = await client(path);
    const [code, reason] = await once(c, 'close');
    expect(code).toBe(4000);
    expect(String(reason)).toBe('server says bye');
    await expect.poll(() => info).toMatchObject({ code: 4000, wasClean: true });
  });

  it('reports state, code and reason through readyState, closeCode, closeReason and events', async () => {
    const seen: unknown[] = [];
    const path = route((ws) => {
      seen.push(ws.readyState);
      ws.on('close', (code, reason) => seen.push(['close', code, reason, ws.readyState, ws.closeCode, ws.closeReason]));
    });
    const c = await client(path);
    c.close(4100, 'client bye');
    await once(c, 'close');
    await expect.poll(() => seen.length).toBe(2);
    expect(seen).toEqual([1, ['close', 4100, 'client bye', 3, 4100, 'client bye']]);
  });

  it('close() validates its arguments', async () => {
    const errs: string[] = [];
    const path = route((ws) => {
      for (const [code, reason] of [
        [1005, ''],
        [999, ''],
        [1012, ''],
        [2000, ''],
        [1000, 'x'.repeat(124)],
      ] as const) {
        try {
          void ws.close(code, reason);
        } catch (e) {
          errs.push((e as Error).name);
        }
      }
      void ws.close(1000, 'é'.repeat(61)); // 122 bytes: allowed
    });
    const c = await client(path);
    const [code] = await once(c, 'close');
    expect(code).toBe(1000);
    expect(errs).toEqual(['RangeError', 'RangeError', 'RangeError', 'RangeError', 'RangeError']);
  });

  it('send after close returns false instead of throwing', async () => {
    const results: boolean[] = [];
    const path = route(async (ws) => {
      results.push(ws.send('before'));
      void ws.close();
      results.push(ws.send('after'), ws.ping(), ws.pong());
    });
    const c = await client(path);
    await once(c, 'close');
    expect(results).toEqual([true, false, false, false]);
  });

  it('destroys the socket after closeTimeout when the peer never answers the close', async () => {
    const infos: unknown[] = [];
    const path = route(
      async (ws) => {
        infos.push(await ws.close(1000));
      },
      { closeTimeout: 0.2 },
    );
    const peer = await RawPeer.open(srv.port, handshakeRequest(path));
    const frames = await peer.readUntilClose(); // never answered
    expect(frames.at(-1)?.opcode).toBe(8);
    await peer.ended;
    await expect.poll(() => infos.length).toBe(1);
    expect(infos[0]).toMatchObject({ code: 1006, wasClean: false });
  });

  it('terminate() drops the connection at once: 1006 on both sides', async () => {
    let info: unknown;
    const path = route(async (ws) => {
      ws.terminate();
      info = await ws.closed;
    });
    const c = await client(path);
    const [code] = await once(c, 'close');
    expect(code).toBe(1006);
    await expect.poll(() => info).toMatchObject({ code: 1006, wasClean: false });
  });

  it("answers the peer's close after the messages before it have been read and answered", async () => {
    const path = route(async (ws) => {
      await sleep(30);
      for await (const m of ws) ws.send(`echo ${m.data}`);
    });
    const peer = await RawPeer.open(srv.port, handshakeRequest(path));
    peer.sendFrame({ opcode: 1, payload: 'one' });
    peer.sendFrame({ opcode: 1, payload: 'two' });
    peer.sendFrame({ opcode: 8, payload: closePayload(1000) });
    const result = await peer.expectClose();
    expect(result.frames.map((f) => f.payload.toString())).toEqual(['echo one', 'echo two']);
    expect(result.code).toBe(1000);
  });

  it("answers the peer's close within closeTimeout even if nobody reads", async () => {
    const path = route(() => {}, { closeTimeout: 0.2 });
    const peer = await RawPeer.open(srv.port, handshakeRequest(path));
    peer.sendFrame({ opcode: 1, payload: 'unread' });
    peer.sendFrame({ opcode: 8, payload: closePayload(1001) });
    const result = await peer.expectClose();
    expect(result.code).toBe(1001);
  });

  it("emits 'error' for a protocol failure when someone listens", async () => {
    const errs: string[] = [];
    const path = route((ws) => {
      ws.on('error', (e) => errs.push(e.code));
    });
    const peer = await RawPeer.open(srv.port, handshakeRequest(path));
    peer.sendFrame({ opcode: 5 });
    await peer.expectClose();
    expect(errs).toEqual(['ERR_INVALID_OPCODE']);
  });
});

describe('options', () => {
  it('rejects invalid options with a typed error and a 500 response', async () => {
    const errs: unknown[] = [];
    const s = await startServer((req, res) => {
      try {
        upgrade(req, res, { maxPayload: -1 });
      } catch (e) {
        errs.push(e);
      }
    });
    const peer = await RawPeer.open(s.port, handshakeRequest('/'));
    expect(peer.response?.status).toBe(500);
    expect(errs[0]).toBeInstanceOf(RangeError);
    expect((errs[0] as { code: string }).code).toBe('ERR_INVALID_OPTION');
    await peer.ended;
    await s.close();
  });

  it('validates every option type', async () => {
    const bad: UpgradeOptions[] = [
      { maxPayload: 0 },
      { maxPayload: Number.NaN },
      { maxFragments: -5 },
      { closeTimeout: 0 },
      { closeTimeout: -1 },
      { autoPong: 'yes' as never },
      { frames: 1 as never },
      { headers: 'x' as never },
    ];
    const names: string[] = [];
    const s = await startServer((req, res) => {
      const i = Number(new URL(req.url!, 'http://x').searchParams.get('i'));
      try {
        upgrade(req, res, bad[i]);
      } catch (e) {
        names.push(`${(e as Error).name}:${(e as { code: string }).code}`);
      }
    });
    for (let i = 0; i < bad.length; i++) {
      const peer = await RawPeer.open(s.port, handshakeRequest(`/?i=${i}`));
      expect(peer.response?.status).toBe(500);
      await peer.ended;
    }
    expect(names).toHaveLength(bad.length);
    for (const n of names) expect(n).toMatch(/^(RangeError|TypeError):ERR_INVALID_OPTION$/);
    await s.close();
  });
});
