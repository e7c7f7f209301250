import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createClient,
  ErrorCode,
  handleUpgrades,
  upgrade,
  WebSocketError,
  type Message,
  type UpgradeRouter,
  type WebSocketClient,
} from '@wsup/core';
import { startRawServer } from '../helpers/raw-server.js';

interface Echo {
  port: number;
  url: string;
  /** Handshakes accepted so far. */
  accepted: number;
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/** A wsup echo server that can be stopped and started again on the same port. */
async function echoServer(): Promise<Echo> {
  let server: Server | undefined;
  let router: UpgradeRouter | undefined;
  const echo: Echo = {
    port: 0,
    url: '',
    accepted: 0,
    async start() {
      const s = createHttpServer(async (req, res) => {
        const ws = upgrade(req, res);
        echo.accepted++;
        if (req.url === '/hello') ws.send('hello from the server');
        for await (const msg of ws) ws.send(msg.data, msg.binary);
      });
      router = handleUpgrades(s);
      await new Promise<void>((resolve) => s.listen(echo.port, '127.0.0.1', resolve));
      echo.port = (s.address() as AddressInfo).port;
      echo.url = `ws://127.0.0.1:${echo.port}`;
      server = s;
    },
    async stop() {
      const s = server!;
      server = undefined;
      // Like a crash: connections drop without a close handshake.
      for (const ws of router!.clients) ws.terminate();
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  await echo.start();
  return echo;
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Records a client's events in order. */
function record(client: WebSocketClient) {
  const events: string[] = [];
  const messages: Message[] = [];
  const closes: { code: number; reason: string; error: WebSocketError | undefined; state: string }[] = [];
  const reconnects: { attempt: number; delay: number }[] = [];
  client.on('connection', () => events.push('connection'));
  client.on('receive', (m) => {
    events.push('receive');
    messages.push(m);
  });
  client.on('close', (code, reason, error) => {
    events.push('close');
    closes.push({ code, reason, error, state: client.state });
  });
  client.on('reconnect', (attempt, delay) => {
    events.push('reconnect');
    reconnects.push({ attempt, delay });
  });
  return { events, messages, closes, reconnects };
}

function next(client: WebSocketClient, event: 'connection' | 'receive' | 'close'): Promise<unknown[]> {
  return new Promise((resolve) => client.once(event, (...args: unknown[]) => resolve(args)));
}

const clients: WebSocketClient[] = [];
const servers: Echo[] = [];
function track<T extends WebSocketClient>(c: T): T {
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop().catch(() => {})));
});

describe('handlers', () => {
  it('fire for connection, receive and close', async () => {
    const srv = await echoServer();
    servers.push(srv);
    const client = track(createClient());
    const log = record(client);
    const connected = next(client, 'connection');
    const hello = next(client, 'receive');
    client.connect(`${srv.url}/hello`);
    expect(client.state).toBe('connecting');
    const [ws] = await connected;
    expect(client.ws).toBe(ws);
    expect(client.state).toBe('open');
    expect(((await hello)[0] as Message).data).toBe('hello from the server');

    const echoed = next(client, 'receive');
    expect(client.send('ping?')).toBe(true);
    expect(((await echoed)[0] as Message).data).toBe('ping?');

    const closed = next(client, 'close');
    await client.close(4000, 'done');
    const [code, , error] = await closed;
    expect(code).toBe(4000);
    expect(error).toBeUndefined();
    expect(client.state).toBe('idle');
    expect(client.ws).toBeUndefined();
    expect(log.events).toEqual(['connection', 'receive', 'receive', 'close']);
  });

  it('report a failed connect through close, with the typed error, and through error', async () => {
    const client = track(createClient());
    const log = record(client);
    const errors: WebSocketError[] = [];
    client.on('error', (e) => errors.push(e));
    const closed = next(client, 'close');
    client.connect(`ws://127.0.0.1:${await closedPort()}/`);
    const [code, reason, error] = await closed;
    expect(code).toBe(1006);
    expect(reason).toBe('');
    expect((error as WebSocketError).code).toBe(ErrorCode.ConnectionRefused);
    expect(errors).toEqual([error]);
    expect(log.events).toEqual(['close']);
    expect(client.state).toBe('idle');
  });

  it('report an invalid URL through close', async () => {
    const client = track(createClient());
    const closed = next(client, 'close');
    client.connect('http://example.com/');
    const [, , error] = await closed;
    expect((error as WebSocketError).code).toBe(ErrorCode.InvalidUrl);
  });

  it('send returns false when there is no connection', () => {
    const client = track(createClient());
    expect(client.send('nobody')).toBe(false);
  });

  it('throws invalid options at once', () => {
    expect(() => createClient({ timeout: -1 })).toThrow(RangeError);
    expect(() => createClient({ headers: { Upgrade: 'x' } })).toThrow(TypeError);
    expect(() => createClient({ reconnect: { factor: 0.5 } })).toThrow(RangeError);
    expect(() => createClient({ signal: AbortSignal.abort() } as never)).toThrow(TypeError);
  });
});

describe('reuse', () => {
  it('connects again after close, with the same handlers', async () => {
    const srv = await echoServer();
    servers.push(srv);
    const client = track(createClient());
    const log = record(client);
    for (let round = 0; round < 3; round++) {
      const connected = next(client, 'connection');
      client.connect(srv.url);
      await connected;
      const echoed = next(client, 'receive');
      client.send(`round ${round}`);
      expect(((await echoed)[0] as Message).data).toBe(`round ${round}`);
      await client.close();
    }
    expect(log.events).toEqual(['connection', 'receive', 'close', 'connection', 'receive', 'close', 'connection', 'receive', 'close']);
    expect(srv.accepted).toBe(3);
  });

  it('can connect again from inside its close handler', async () => {
    const srv = await echoServer();
    servers.push(srv);
    const client = track(createClient());
    let closes = 0;
    client.on('close', () => {
      if (++closes === 1) client.connect(srv.url);
    });
    const second = new Promise<void>((resolve) => {
      let n = 0;
      client.on('connection', () => {
        if (++n === 2) resolve();
      });
    });
    client.connect(srv.url);
    await next(client, 'connection');
    await client.close();
    await second;
    expect(client.state).toBe('open');
  });

  it('refuses connect() while connected', async () => {
    const srv = await echoServer();
    servers.push(srv);
    const client = track(createClient());
    const connected = next(client, 'connection');
    client.connect(srv.url);
    expect(() => client.connect(srv.url)).toThrow(expect.objectContaining({ code: ErrorCode.ClientBusy }));
    await connected;
    expect(() => client.connect(srv.url)).toThrow(WebSocketError);
  });

  it('close() while connecting abandons the attempt and reports it', async () => {
    const silent = await startRawServer(undefined, { silent: true });
    const client = track(createClient({ reconnect: { initialDelay: 0.01 } }));
    const log = record(client);
    client.connect(silent.url);
    await new Promise((resolve) => silent.server.once('connection', resolve));
    await client.close();
    expect(log.closes).toHaveLength(1);
    expect(log.closes[0]!.error?.code).toBe(ErrorCode.Aborted);
    expect(log.reconnects).toHaveLength(0);
    expect(client.state).toBe('idle');
    await silent.close();
  });
});

describe('reconnect', () => {
  it('reconnects after the server restarts on the same port', async () => {
    const srv = await echoServer();
    servers.push(srv);
    const client = track(createClient({ reconnect: { initialDelay: 0.02, maxDelay: 0.1 } }));
    const log = record(client);
    const first = next(client, 'connection');
    client.connect(srv.url);
    await first;

    const dropped = next(client, 'close');
    await srv.stop();
    const [code] = await dropped;
    expect(code).toBe(1006);
    expect(log.closes[0]!.state).toBe('waiting');
    // Let a few attempts hit the closed port before the server comes back.
    await new Promise((resolve) => {
      const check = () => (log.closes.length >= 3 ? resolve(undefined) : setTimeout(check, 5));
      check();
    });
    expect(log.closes.slice(1).every((c) => c.error?.code === ErrorCode.ConnectionRefused)).toBe(true);

    const back = next(client, 'connection');
    await srv.start();
    await back;
    expect(client.state).toBe('open');
    const echoed = next(client, 'receive');
    client.send('after restart');
    expect(((await echoed)[0] as Message).data).toBe('after restart');
    expect(log.reconnects.length).toBeGreaterThanOrEqual(3);
    expect(log.reconnects[0]!.attempt).toBe(1);
  });

  it('gives up after maxAttempts retries', async () => {
    const client = track(createClient({ reconnect: { initialDelay: 0.01, maxDelay: 0.02, maxAttempts: 3 } }));
    const log = record(client);
    const idle = new Promise<void>((resolve) => client.on('close', () => client.state === 'idle' && resolve()));
    client.connect(`ws://127.0.0.1:${await closedPort()}/`);
    await idle;
    // The first attempt and three retries, each reported; a retry announced after each but the last.
    expect(log.closes).toHaveLength(4);
    expect(log.reconnects.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(log.closes.map((c) => c.state)).toEqual(['waiting', 'waiting', 'waiting', 'idle']);
    for (const r of log.reconnects) {
      expect(r.delay).toBeGreaterThanOrEqual(0);
      expect(r.delay).toBeLessThanOrEqual(0.02);
    }
  });

  it('stops when close() is called while waiting to retry', async () => {
    const client = track(createClient({ reconnect: { initialDelay: 5 } }));
    const log = record(client);
    const failed = next(client, 'close');
    client.connect(`ws://127.0.0.1:${await closedPort()}/`);
    await failed;
    expect(client.state).toBe('waiting');
    await client.close();
    expect(client.state).toBe('idle');
    expect(log.closes).toHaveLength(1);
  });

  it('does not retry an invalid URL', async () => {
    const client = track(createClient({ reconnect: { initialDelay: 0.01 } }));
    const log = record(client);
    const closed = next(client, 'close');
    client.connect('ws://127.0.0.1:0/');
    await closed;
    expect(log.closes[0]!.error?.code).toBe(ErrorCode.InvalidPort);
    expect(client.state).toBe('idle');
    expect(log.reconnects).toHaveLength(0);
  });

  it('does not reconnect after close() on an open connection', async () => {
    const srv = await echoServer();
    servers.push(srv);
    const client = track(createClient({ reconnect: { initialDelay: 0.01 } }));
    const log = record(client);
    const connected = next(client, 'connection');
    client.connect(srv.url);
    await connected;
    await client.close();
    expect(client.state).toBe('idle');
    expect(log.reconnects).toHaveLength(0);
    expect(srv.accepted).toBe(1);
  });
});
