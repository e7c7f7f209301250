/**
 * Test clients for the adapter suites and examples: the `ws` package as the real WebSocket client,
 * and a raw socket that shows exactly what a server wrote in answer to an upgrade request.
 */
import { once } from 'node:events';
import { connect as connectTcp, type AddressInfo, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import WebSocketClient, { type ClientOptions, type RawData } from 'ws';

export { WebSocketClient };

/** Any listening server: node:http, node:https or node:http2. */
export interface Listening {
  address(): AddressInfo | string | null;
}

/** A client that was refused: the HTTP response the server sent instead of a 101. */
export class UnexpectedResponse extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
    readonly body: string,
  ) {
    super(`server answered ${status} instead of 101`);
  }
}

/** The base URL (`ws://` or `wss://`) of a listening server. */
export function wsUrl(server: Listening, tls = false): string {
  const { port } = server.address() as AddressInfo;
  return `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}`;
}

interface Received {
  data: RawData;
  binary: boolean;
}

interface Tracking {
  queue: Received[];
  waiting: ((msg: Received) => void)[];
  closed: Promise<{ code: number; reason: string }>;
}

// Listeners go on before the handshake finishes: a server that sends right after upgrading can
// deliver its first message (even its close) in the same TCP chunk as the 101.
const tracking = new WeakMap<WebSocketClient, Tracking>();

function track(client: WebSocketClient): Tracking {
  const t: Tracking = {
    queue: [],
    waiting: [],
    closed: new Promise((resolve) => {
      client.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }));
    }),
  };
  client.on('message', (data: RawData, binary: boolean) => {
    const waiter = t.waiting.shift();
    if (waiter) waiter({ data, binary });
    else t.queue.push({ data, binary });
  });
  tracking.set(client, t);
  return t;
}

function trackingOf(client: WebSocketClient): Tracking {
  const t = tracking.get(client);
  if (!t) throw new Error('open clients with openClient()');
  return t;
}

/** Opens a `ws` client; rejects with {@link UnexpectedResponse} when the server does not upgrade. */
export async function openClient(url: string, protocols: string[] = [], options: ClientOptions = {}): Promise<WebSocketClient> {
  const client = new WebSocketClient(url, protocols, options);
  track(client);
  return new Promise((resolve, reject) => {
    client.once('open', () => resolve(client));
    client.once('error', reject);
    client.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => reject(new UnexpectedResponse(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString())));
      res.on('error', reject);
    });
  });
}

/** The refusal an upgrade attempt got (fails the test if it was accepted). */
export async function refusal(url: string, options: ClientOptions = {}): Promise<UnexpectedResponse> {
  try {
    const client = await openClient(url, [], options);
    client.terminate();
  } catch (err) {
    if (err instanceof UnexpectedResponse) return err;
    throw err;
  }
  throw new Error(`${url} was upgraded, a refusal was expected`);
}

/** The next message a client receives (messages are queued from the handshake on). */
export async function nextMessage(client: WebSocketClient): Promise<Received> {
  const t = trackingOf(client);
  const queued = t.queue.shift();
  if (queued) return queued;
  return new Promise((resolve) => t.waiting.push(resolve));
}

/** The close code and reason, once the connection has closed. */
export function closed(client: WebSocketClient): Promise<{ code: number; reason: string }> {
  return trackingOf(client).closed;
}

/**
 * Sends a valid WebSocket handshake over a raw socket and returns everything the server wrote
 * until it closed the connection, so a test sees the real HTTP response and that the connection
 * ended.
 */
export async function rawHandshake(server: Listening, path: string, tls?: { ca: string }): Promise<string> {
  const { port } = server.address() as AddressInfo;
  const socket: Socket = tls
    ? connectTls({ host: '127.0.0.1', port, ca: tls.ca, servername: 'localhost' })
    : connectTcp({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

/** The status code of a raw HTTP response. */
export function statusOf(raw: string): number {
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(raw);
  if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(raw.slice(0, 80))}`);
  return Number(match[1]);
}

/**
 * A slowloris client: sends a WebSocket handshake one byte every 20 ms until the server closes
 * the connection. Returns what the server wrote and whether the head was still unfinished then
 * (a server that keeps its handshake deadline drops the client long before the ~4 s the head takes).
 */
export async function drippedHandshake(server: Listening, path: string): Promise<{ response: string; unfinished: boolean }> {
  const { port } = server.address() as AddressInfo;
  const socket = connectTcp({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const head =
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  let sent = 0;
  const drip = setInterval(() => {
    if (sent < head.length - 2 && !socket.destroyed) socket.write(head[sent++]!);
  }, 20);
  await once(socket, 'close');
  clearInterval(drip);
  return { response: Buffer.concat(chunks).toString('latin1'), unfinished: sent < head.length - 2 };
}
