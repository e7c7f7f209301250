/**
 * The same port and the same /echo route for clients that do not do RFC 8441: the `ws` package
 * and wsup's own client over HTTP/1.1 get the classic Upgrade, and wsup's client with
 * `http2: true` gets an extended CONNECT stream.
 */
import { once } from 'node:events';
import { get } from 'node:https';
import { connect as connectHttp2 } from 'node:http2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WsClient, { type RawData } from 'ws';
import { connect, type UpgradeRequest, type WebSocket } from '@wsup/core';
import { type RunningExample, start } from '../src/app.js';

let app: RunningExample;
let echoUrl: string;
const accepted: { ws: WebSocket; req: UpgradeRequest }[] = [];

beforeAll(async () => {
  app = await start({ port: 0, host: '127.0.0.1', onWebSocket: (ws, req) => accepted.push({ ws, req }) });
  echoUrl = `${app.url.replace('https:', 'wss:')}echo`;
});
afterAll(async () => {
  await app?.close();
});
afterEach(() => {
  accepted.length = 0;
});

/** The body of GET / over HTTP/1.1, trusting the example's certificate. */
function getPageOverHttp1(): Promise<string> {
  return new Promise((resolve, reject) => {
    get(app.url, { ca: app.cert, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** The body of GET / over HTTP/2. */
async function getPageOverHttp2(): Promise<string> {
  const session = connectHttp2(app.url, { ca: app.cert });
  try {
    const stream = session.request({ ':path': '/' });
    stream.setEncoding('utf8');
    let body = '';
    stream.on('data', (chunk: string) => (body += chunk));
    await once(stream, 'end');
    return body;
  } finally {
    session.close();
  }
}

describe('the http2 example with non-browser clients', () => {
  it('serves the page over both HTTP versions on one port, saying which one carried it', async () => {
    expect(await getPageOverHttp1()).toContain('<strong id="page-protocol">HTTP/1.1</strong>');
    expect(await getPageOverHttp2()).toContain('<strong id="page-protocol">HTTP/2</strong>');
  });

  it('echoes for the ws package over HTTP/1.1, with permessage-deflate', async () => {
    const client = new WsClient(echoUrl, { ca: app.cert });
    await once(client, 'open');
    expect(client.extensions).toMatch(/^permessage-deflate\b/);
    const long = 'compressible '.repeat(500);
    for (const text of ['plain', long]) {
      const reply = once(client, 'message') as Promise<[RawData, boolean]>;
      client.send(text);
      const [data, binary] = await reply;
      expect(binary).toBe(false);
      expect(data.toString()).toBe(text);
    }
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.req.httpVersion).toBe('1.1');
    expect(accepted[0]!.ws.extensions).toMatch(/^permessage-deflate\b/);
    client.close(1000);
    await once(client, 'close');
  });

  it("echoes for wsup's client over HTTP/1.1 and, on the same port, over HTTP/2", async () => {
    const over1 = await connect(echoUrl, { http2: false, ca: app.cert, compress: true });
    const over2 = await connect(echoUrl, { http2: true, ca: app.cert, compress: true });
    expect(accepted.map((a) => a.req.httpVersion)).toEqual(['1.1', '2.0']);
    // RFC 8441 §4: the HTTP/2 one arrived as an extended CONNECT for the websocket protocol.
    expect(accepted[1]!.req.headers[':protocol']).toBe('websocket');
    const long = 'x'.repeat(64 * 1024);
    for (const ws of [over1, over2]) {
      expect(ws.extensions).toMatch(/^permessage-deflate\b/);
      ws.send('hello');
      expect(await ws.receive()).toMatchObject({ data: 'hello', binary: false });
      ws.send(Buffer.from([0, 1, 2, 255]));
      expect(await ws.receive()).toMatchObject({ data: Buffer.from([0, 1, 2, 255]), binary: true });
      ws.send(long);
      expect((await ws.receive())?.data).toBe(long);
    }
    await Promise.all([over1.close(), over2.close()]);
  });

  it('close() sends 1001 to open WebSockets and finishes', async () => {
    const own = await start({ port: 0 });
    const ws = await connect(`${own.url.replace('https:', 'wss:')}echo`, { http2: true, ca: own.cert });
    await own.close();
    expect((await ws.closed).code).toBe(1001);
  });
});
