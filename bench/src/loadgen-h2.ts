/**
 * The generator's side of the HTTP/2 group: WebSockets as extended CONNECT streams of one
 * node:http2 session (RFC 8441) or of a session each, or as HTTP/1.1 upgrades on a TLS or TCP
 * connection each; and the open run, which opens many from this process and measures what holding
 * them costs it.
 *
 * Like the rest of the generator it does not go through wsup: node:http2 carries the streams, and
 * the frames on them are the generator's own, prepared and verified exactly as over a socket (a
 * stream is a Duplex like a socket, so loadgen.ts's echo connections run on either unchanged). The
 * open run can use wsup's own `connect()` instead, to measure wsup's client.
 */
import { performance } from 'node:perf_hooks';
import { type ClientHttp2Session, type ClientHttp2Stream, connect as h2connect } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, createSecureContext, type SecureContext } from 'node:tls';
import { BenchError, fail, type Handshake, openSocket, sleep } from './handshake.js';
import type { H2OpenJob, H2OpenResult, JobTransport } from './protocol.js';
import { DEFLATE_OFFER, handshakeRequest } from './wire.js';

/** One open WebSocket from the generator's side: the socket or stream its frames travel on. */
export interface Opened {
  socket: Duplex;
  hs: Handshake;
}

/** How a run's WebSockets are opened, and how to close what they share. */
export interface WebSocketTransport {
  open(): Promise<Opened>;
  close(): void;
}

/**
 * Receive windows like a browser's (Chrome advertises 6 MiB per stream and 15 MiB for the
 * session). Node's client defaults (64 KiB each) would make the generator, not the server, hold
 * back the 16 KiB echoes over HTTP/2; the server keeps Node's defaults, which are wsup's.
 */
const STREAM_WINDOW = 6 * 1024 * 1024;
const SESSION_WINDOW = 15 * 1024 * 1024;

/** The name in the bench certificate; the server is reached at 127.0.0.1 either way. */
const SERVERNAME = 'localhost';

/**
 * A TLS connection for HTTP/1.1 (`alpn` http/1.1) or HTTP/2 (h2). One secure context for all of
 * them: building one per connection would re-parse the CA for every handshake, a cost of this
 * client rather than of TLS.
 */
function tlsDial(port: number, context: SecureContext, alpn: string): Socket {
  // tls.connect does not pass `noDelay` on to the TCP connection; setNoDelay before connecting does.
  return tlsConnect({ host: '127.0.0.1', port, servername: SERVERNAME, secureContext: context, ALPNProtocols: [alpn] }).setNoDelay(true);
}

/** Opens an HTTP/2 session and resolves once the server's settings (extended CONNECT among them) are in. */
async function h2Session(
  port: number,
  t: JobTransport,
  context: SecureContext | undefined,
  onLost: (err: Error) => void,
): Promise<ClientHttp2Session> {
  const session = h2connect(`${t.tls ? 'https' : 'http'}://127.0.0.1:${port}`, {
    settings: { initialWindowSize: STREAM_WINDOW },
    // The connection made here, as for the HTTP/1.1 runs: no Nagle, the same TLS context.
    createConnection: () => (context ? tlsDial(port, context, 'h2') : netConnect({ host: '127.0.0.1', port, noDelay: true })),
  });
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  if (session.remoteSettings.enableConnectProtocol !== true) fail('the server does not advertise extended CONNECT (RFC 8441)');
  session.setLocalWindowSize(SESSION_WINDOW);
  session.on('error', (err) => onLost(new BenchError(`HTTP/2 session error: ${err.message}`)));
  session.on('goaway', (code) => onLost(new BenchError(`the server sent GOAWAY (code ${code})`)));
  return session;
}

/** One WebSocket as an extended CONNECT stream (RFC 8441 §4): open once the server answers 200. */
function openStream(session: ClientHttp2Session, port: number, t: JobTransport, deflate: boolean): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const stream: ClientHttp2Stream = session.request(
      {
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':scheme': t.tls ? 'https' : 'http',
        ':authority': `127.0.0.1:${port}`,
        ':path': '/echo',
        'sec-websocket-version': '13',
        ...(deflate ? { 'sec-websocket-extensions': DEFLATE_OFFER } : {}),
      },
      { endStream: false },
    );
    const onError = (err: Error): void => reject(err);
    const onClose = (): void => reject(new BenchError(`stream closed before the 200 (RST_STREAM ${stream.rstCode})`));
    stream.once('error', onError);
    stream.once('close', onClose);
    stream.once('response', (headers) => {
      stream.removeListener('error', onError);
      stream.removeListener('close', onClose);
      const status = headers[':status'];
      if (status !== 200) return reject(new BenchError(`extended CONNECT refused: ${status}`));
      const extensions = String(headers['sec-websocket-extensions'] ?? '');
      if (extensions && !deflate) return reject(new BenchError(`server agreed to extensions nobody offered: ${extensions}`));
      resolve({ socket: stream, hs: { extensions, rest: Buffer.alloc(0) } });
    });
  });
}

/**
 * How the echo and open runs open their WebSockets: over HTTP/2, one session made here and a
 * stream per WebSocket (or a session each, `sessionEach`); over HTTP/1.1, a connection each with
 * the handshake written by hand (plain TCP without a transport, as every other scenario).
 */
export async function webSocketTransport(
  port: number,
  deflate: boolean,
  t: JobTransport | undefined,
  onLost: (err: Error) => void,
): Promise<WebSocketTransport> {
  const context = t?.tls ? createSecureContext({ ca: t.ca }) : undefined;
  if (t?.http2 && t.sessionEach) {
    // As from as many browsers: a session (connection, TLS handshake) for each WebSocket.
    const sessions: ClientHttp2Session[] = [];
    return {
      open: async () => {
        const session = await h2Session(port, t, context, onLost);
        sessions.push(session);
        return openStream(session, port, t, deflate);
      },
      close: () => {
        for (const s of sessions) s.destroy();
      },
    };
  }
  if (t?.http2) {
    const session = await h2Session(port, t, context, onLost);
    return { open: () => openStream(session, port, t, deflate), close: () => session.destroy() };
  }
  const request = handshakeRequest(port, deflate);
  if (!context) return { open: () => openSocket(port, deflate, request), close: () => {} };
  return { open: () => openSocket(port, deflate, request, () => tlsDial(port, context, 'http/1.1')), close: () => {} };
}

// ---------------------------------------------------------------------------------------------
// The open run

/** A client for the open run: each `open()` opens one WebSocket, held until `closeAll()`. */
interface OpenClient {
  open(): Promise<void>;
  closeAll(): void;
}

/** Opens WebSockets with the bench's lean client; the HTTP/2 session is made inside the timed window. */
function benchClient(job: H2OpenJob, onLost: (err: Error) => void): OpenClient {
  let transport: Promise<WebSocketTransport> | undefined;
  const held: Duplex[] = [];
  return {
    open: async () => {
      // The session is part of opening the first WebSocket, as it would be for any client.
      transport ??= webSocketTransport(job.port, false, job.transport, onLost);
      const { socket } = await (await transport).open();
      held.push(socket);
      // Anything arriving on a held WebSocket is a server fault.
      socket.on('data', () => onLost(new BenchError('data on an idle WebSocket')));
      socket.on('error', () => {});
    },
    closeAll: () => {
      for (const s of held) s.destroy();
      void transport?.then((t) => t.close());
    },
  };
}

/** Opens WebSockets with wsup's `connect()`, which shares one session per origin by itself. */
async function wsupClient(job: H2OpenJob, onLost: (err: Error) => void): Promise<OpenClient> {
  // Loaded before the memory baseline, so the module's own heap is not counted per WebSocket.
  const { connect } = await import('@wsup/core');
  const url = `${job.transport.tls ? 'wss' : 'ws'}://127.0.0.1:${job.port}/echo`;
  const options = { http2: job.transport.http2, ...(job.transport.ca ? { ca: job.transport.ca } : {}), timeout: 60 };
  const held: { terminate(): void }[] = [];
  return {
    open: async () => {
      const ws = await connect(url, options);
      held.push(ws);
      ws.on('message', () => onLost(new BenchError('message on an idle WebSocket')));
    },
    closeAll: () => {
      for (const ws of held) ws.terminate();
    },
  };
}

function collect(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Twice, as the servers do: the first pass can leave finalisation work for the second.
  gc?.();
  gc?.();
  return process.memoryUsage();
}

/**
 * The open run: `websockets` WebSockets, `concurrency` handshakes at a time, timed from the first
 * connect to the last open; then this process's memory per WebSocket. `opened` tells the
 * orchestrator to measure the server; `released` resolves when it has.
 */
export async function runH2Open(
  job: H2OpenJob,
  opened: (count: number, openMs: number, shortfall: string | undefined) => void,
  released: () => Promise<void>,
  onLost: (err: Error) => void,
): Promise<H2OpenResult> {
  const client = job.client === 'wsup' ? await wsupClient(job, onLost) : benchClient(job, onLost);
  const before = collect();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let openMs = 0;
  let count = 0;
  let started = 0;
  let pending = 0;
  let shortfall: string | undefined;
  await new Promise<void>((resolve) => {
    const next = (): void => {
      while (!shortfall && pending < job.concurrency && started < job.websockets) {
        started++;
        pending++;
        client.open().then(
          () => {
            pending--;
            count++;
            openMs = performance.now() - t0;
            next();
          },
          (err: NodeJS.ErrnoException) => {
            pending--;
            // Over HTTP/1.1 the OS may say no (descriptors, ports): keep what is open and say so.
            // A refused stream is the server's fault, not a limit.
            if (err instanceof BenchError) onLost(err);
            shortfall ??= `${err.code ?? 'error'} after ${count} WebSockets: ${err.message}`;
            next();
          },
        );
      }
      if (pending === 0 && (shortfall || count === job.websockets)) resolve();
    };
    next();
  });
  const cpu = process.cpuUsage(cpu0);
  // A moment for both ends to finish whatever follows the last handshake (acknowledgements, tickets).
  await sleep(300);
  const after = collect();
  opened(count, openMs, shortfall);
  await released();
  client.closeAll();
  return {
    kind: 'h2-open',
    opened: count,
    openMs,
    cpuMicros: cpu.user + cpu.system,
    rssDelta: after.rss - before.rss,
    heapDelta: after.heapUsed - before.heapUsed,
    ...(shortfall ? { shortfall } : {}),
  };
}
