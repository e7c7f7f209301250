import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, ErrorCode, upgrade, WebSocketError, type WebSocket } from '@wsup/core';
import { selfSignedCert, startServer, type TestServer } from '../helpers/server.js';

let tlsServer: TestServer;
let plainServer: TestServer;
let cert: { key: string; cert: string };

async function echo(ws: WebSocket): Promise<void> {
  for await (const msg of ws) ws.send(msg.data, msg.binary);
}

beforeAll(async () => {
  cert = selfSignedCert();
  tlsServer = await startServer((req, res) => echo(upgrade(req, res)), { tls: cert });
  plainServer = await startServer((req, res) => echo(upgrade(req, res)));
});
afterAll(async () => {
  await tlsServer.close();
  await plainServer.close();
});

async function roundTrip(ws: WebSocket): Promise<void> {
  ws.send('over TLS');
  expect((await ws.receive(5))?.data).toBe('over TLS');
  await ws.close();
}

it('connects to a self-signed server when given its certificate as ca', async () => {
  await roundTrip(await connect(tlsServer.url, { ca: cert.cert }));
});

it('checks the host name against the certificate and sends SNI for names', async () => {
  await roundTrip(await connect(`wss://localhost:${tlsServer.port}/`, { ca: cert.cert }));
});

it('fails with a typed TLS error when the certificate cannot be verified', async () => {
  const err = await connect(tlsServer.url).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WebSocketError);
  expect((err as WebSocketError).code).toBe(ErrorCode.TlsFailed);
  expect(((err as WebSocketError).cause as { code?: string }).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
});

it('connects without verification with insecure: true', async () => {
  await roundTrip(await connect(tlsServer.url, { insecure: true }));
});

it('connects without verification with rejectUnauthorized: false', async () => {
  await roundTrip(await connect(tlsServer.url, { rejectUnauthorized: false }));
});

it('fails with a typed TLS error when the server does not speak TLS', async () => {
  const err = await connect(`wss://127.0.0.1:${plainServer.port}/`, { insecure: true }).catch((e: unknown) => e);
  expect((err as WebSocketError).code).toBe(ErrorCode.TlsFailed);
});

it('fails with a typed error when ws:// reaches a TLS server', async () => {
  const err = await connect(`ws://127.0.0.1:${tlsServer.port}/`, { timeout: 5 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WebSocketError);
  // Node's TLS server drops a connection that does not start with a TLS hello.
  expect((err as WebSocketError).code).toBe(ErrorCode.HandshakeClosed);
});
