/**
 * The client's TLS options: a client certificate for servers that require one (mutual TLS) as
 * cert + key, an encrypted key with its passphrase, or PKCS#12; servername (SNI); the checks
 * that pass through to tls.connect; on HTTP/1.1, through an agent, and over HTTP/2.
 */
import { createSecureServer, type Http2ServerRequest } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { checkServerIdentity, createSecureContext, type PeerCertificate, type TLSSocket } from 'node:tls';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ErrorCode, handleUpgrades, upgrade, type ConnectOptions, type WebSocket, type WebSocketError } from '@wsup/core';
import { mutualTlsCerts, type MutualTlsCerts } from '../../../../test-support/tls.js';

let certs: MutualTlsCerts;

interface TlsServer {
  url: string;
  port: number;
  /** The CN of each client certificate the server saw, per accepted WebSocket. */
  peers: string[];
  /** The server names that reached SNICallback. */
  sniNames: string[];
  close(): Promise<void>;
}

async function echo(ws: WebSocket): Promise<void> {
  for await (const msg of ws) ws.send(msg.data, msg.binary);
}

/** A WebSocket echo server that requires a client certificate signed by the test CA. */
async function startMutualTls(http2 = false, extra: { maxVersion?: 'TLSv1.2' } = {}): Promise<TlsServer> {
  const peers: string[] = [];
  const sniNames: string[] = [];
  const context = createSecureContext({ ...certs.server, ca: certs.ca });
  const options = {
    ...certs.server,
    ca: certs.ca,
    requestCert: true,
    rejectUnauthorized: true,
    ...extra,
    SNICallback: (name: string, cb: (err: Error | null, ctx: typeof context) => void) => {
      sniNames.push(name);
      cb(null, context);
    },
  };
  const listener = (req: { socket: Socket; stream?: Http2ServerRequest['stream'] }, res: unknown) => {
    const tlsSocket = (req.stream ? req.stream.session!.socket : req.socket) as TLSSocket;
    peers.push(tlsSocket.getPeerCertificate().subject.CN as string);
    void echo(upgrade(req as never, res as never));
  };
  const server = (http2 ? createSecureServer(options, listener as never) : createHttpsServer(options, listener as never)) as HttpsServer;
  const sockets = new Set<Socket>();
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  // Handshakes the server refuses are the tests' subject, not a crash.
  server.on('tlsClientError', () => {});
  const router = handleUpgrades(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `wss://127.0.0.1:${port}`,
    port,
    peers,
    sniNames,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of router.clients) ws.terminate();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

let h1: TlsServer;
let h2: TlsServer;
beforeAll(async () => {
  certs = mutualTlsCerts();
  h1 = await startMutualTls();
  h2 = await startMutualTls(true);
});
afterAll(async () => {
  await h1.close();
  await h2.close();
});

async function roundTrip(ws: WebSocket): Promise<void> {
  ws.send('mutual');
  expect((await ws.receive(5))?.data).toBe('mutual');
  await ws.close();
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('connect() succeeded'),
    (e: unknown) => e as WebSocketError,
  );

describe('client certificates (mutual TLS)', () => {
  it('connects with cert and key, and the server sees the certificate', async () => {
    const before = h1.peers.length;
    await roundTrip(await connect(h1.url, { ca: certs.ca, cert: certs.client.cert, key: certs.client.key }));
    expect(h1.peers.slice(before)).toEqual(['wsup-test-client']);
  });

  it('connects with an encrypted key and its passphrase', async () => {
    const { cert, encryptedKey: key, passphrase } = certs.client;
    await roundTrip(await connect(h1.url, { ca: certs.ca, cert, key, passphrase }));
  });

  it('connects with a PKCS#12 pfx and its passphrase', async () => {
    const before = h1.peers.length;
    await roundTrip(await connect(h1.url, { ca: certs.ca, pfx: certs.client.pfx, passphrase: certs.client.passphrase }));
    expect(h1.peers.slice(before)).toEqual(['wsup-test-client']);
  });

  it('fails with ERR_TLS when the server requires a certificate and none is sent', async () => {
    const err = await failure(connect(h1.url, { ca: certs.ca }));
    expect(err.code).toBe(ErrorCode.TlsFailed);
  });

  it('connects with a client certificate through a CONNECT proxy agent', async () => {
    const { createServer } = await import('node:http');
    const { connect: netConnect } = await import('node:net');
    const proxy = createServer();
    proxy.on('connect', (req, client: Socket) => {
      const upstream = netConnect(h1.port, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(client).pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.once('close', () => upstream.destroy());
      expect(req.url).toBe(`127.0.0.1:${h1.port}`);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const agent = new HttpsProxyAgent(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
    try {
      const before = h1.peers.length;
      await roundTrip(await connect(h1.url, { agent, ca: certs.ca, cert: certs.client.cert, key: certs.client.key }));
      expect(h1.peers.slice(before)).toEqual(['wsup-test-client']);
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('connects with a client certificate over HTTP/2', async () => {
    const before = h2.peers.length;
    const ws = await connect(h2.url, { http2: true, ca: certs.ca, cert: certs.client.cert, key: certs.client.key });
    expect(ws.handshakeResponse?.httpVersion).toBe('2');
    await roundTrip(ws);
    expect(h2.peers.slice(before)).toEqual(['wsup-test-client']);
  });

  it('fails over HTTP/2 with ERR_TLS when no certificate is sent', async () => {
    const err = await failure(connect(h2.url, { http2: true, ca: certs.ca }));
    expect(err.code).toBe(ErrorCode.TlsFailed);
  });
});

describe('servername', () => {
  it('sends the servername option as SNI, and checks the certificate against it', async () => {
    const before = h1.sniNames.length;
    const options = { ca: certs.ca, cert: certs.client.cert, key: certs.client.key, servername: 'wsup.test' };
    await roundTrip(await connect(h1.url, options));
    expect(h1.sniNames.slice(before)).toEqual(['wsup.test']);
  });

  it('sends the URL host as SNI by default, and none for an IP address (RFC 6066 §3)', async () => {
    const before = h1.sniNames.length;
    const options = { ca: certs.ca, cert: certs.client.cert, key: certs.client.key };
    await roundTrip(await connect(`wss://localhost:${h1.port}/`, options));
    await roundTrip(await connect(h1.url, options));
    expect(h1.sniNames.slice(before)).toEqual(['localhost']);
  });

  it('sends the servername over HTTP/2 too', async () => {
    const before = h2.sniNames.length;
    const options = { http2: true, ca: certs.ca, cert: certs.client.cert, key: certs.client.key, servername: 'wsup.test' };
    await roundTrip(await connect(h2.url, options));
    expect(h2.sniNames.slice(before)).toEqual(['wsup.test']);
  });

  it('fails with ERR_TLS when the certificate does not name the servername', async () => {
    const err = await failure(connect(h1.url, { ca: certs.ca, cert: certs.client.cert, key: certs.client.key, servername: 'other.test' }));
    expect(err.code).toBe(ErrorCode.TlsFailed);
    expect((err.cause as { code?: string }).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});

describe('passed through to tls.connect', () => {
  const client = () => ({ ca: certs.ca, cert: certs.client.cert, key: certs.client.key });

  it('calls checkServerIdentity with the host name and the certificate, and refuses what it refuses', async () => {
    const seen: string[] = [];
    const accept = (host: string, cert: PeerCertificate) => {
      seen.push(`${host} ${cert.subject.CN}`);
      return checkServerIdentity(host, cert);
    };
    await roundTrip(await connect(`wss://localhost:${h1.port}/`, { ...client(), checkServerIdentity: accept }));
    expect(seen).toEqual(['localhost localhost']);
    const err = await failure(connect(h1.url, { ...client(), checkServerIdentity: () => new Error('not the pinned certificate') }));
    expect(err.code).toBe(ErrorCode.TlsFailed);
    expect(err.message).toContain('not the pinned certificate');
  });

  it('fails with ERR_TLS when minVersion is above what the server speaks', async () => {
    const old = await startMutualTls(false, { maxVersion: 'TLSv1.2' });
    try {
      const err = await failure(connect(old.url, { ...client(), minVersion: 'TLSv1.3' }));
      expect(err.code).toBe(ErrorCode.TlsFailed);
      await roundTrip(await connect(old.url, client()));
    } finally {
      await old.close();
    }
  });

  it('offers only the given ciphers (maxVersion TLS 1.2, where ciphers apply)', async () => {
    await roundTrip(await connect(h1.url, { ...client(), maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }));
    const err = await failure(connect(h1.url, { ...client(), maxVersion: 'TLSv1.2', ciphers: 'NO-SUCH-CIPHER' }));
    expect(err.code).toBe(ErrorCode.InvalidOption);
  });
});

describe('TLS option mistakes', () => {
  it.each<[string, ConnectOptions]>([
    ['a cert that is not PEM text or bytes', { cert: 42 as never, key: 'k' }],
    ['a cert without its key', { cert: 'x' }],
    ['a key without its cert', { key: 'x' }],
    ['a passphrase that is not a string', { passphrase: 1 as never }],
    ['an IP address as servername', { servername: '127.0.0.1' }],
    ['an empty servername', { servername: '' }],
    ['a servername with CRLF', { servername: 'a\r\nb' }],
    ['an unknown minVersion', { minVersion: 'TLSv9' as never }],
    ['minVersion above maxVersion', { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' }],
    ['a checkServerIdentity that is not a function', { checkServerIdentity: true as never }],
    ['ciphers that are not a string', { ciphers: ['a'] as never }],
  ])('rejects %s with ERR_INVALID_OPTION', async (_what, options) => {
    const err = (await failure(connect(h1.url, options))) as unknown as Error & { code: string };
    expect(err).toBeInstanceOf(err instanceof RangeError ? RangeError : TypeError);
    expect(err.code).toBe(ErrorCode.InvalidOption);
  });

  it('rejects a wrong passphrase with ERR_INVALID_OPTION before dialling, with or without an agent', async () => {
    const { cert, encryptedKey: key } = certs.client;
    for (const extra of [{}, { agent: new HttpsProxyAgent('http://127.0.0.1:9') }]) {
      const err = (await failure(connect(h1.url, { ca: certs.ca, cert, key, passphrase: 'wrong', ...extra }))) as unknown as TypeError & {
        code: string;
      };
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe(ErrorCode.InvalidOption);
    }
  });

  it('rejects a key that is not the certificate’s with ERR_INVALID_OPTION', async () => {
    const err = (await failure(connect(h1.url, { ca: certs.ca, cert: certs.client.cert, key: certs.server.key }))) as unknown as {
      code: string;
    };
    expect(err.code).toBe(ErrorCode.InvalidOption);
  });
});
