/**
 * HTTP/2 sessions shared by the client's WebSockets: one session per origin (and TLS settings)
 * carries every WebSocket opened to it as a stream (RFC 8441), instead of a TCP and TLS handshake
 * each. A session closes once its last WebSocket has.
 */
import { type ClientHttp2Session, connect as http2Connect } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { ResolvedConnectOptions } from './options.js';
import { tlsConnectOptions, tlsKey } from './tls-options.js';
import type { WebSocketTarget } from './url.js';

/** A session and how many WebSockets (and attempts) use it. */
export class PooledSession {
  /** Settles once the server's first SETTINGS frame has arrived (or the session failed first). */
  readonly ready: Promise<void>;
  /** The server sent GOAWAY: no new streams on this session. */
  goingAway = false;
  private users = 0;

  constructor(
    private readonly key: string,
    readonly session: ClientHttp2Session,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve());
      session.once('error', reject);
      // Node destroys a session whose socket fails (a TLS 1.3 server refusing the client's
      // certificate after the client's handshake is done) without always emitting its events.
      session.socket.once('error', reject);
      session.once('close', () => reject(new Error('the HTTP/2 session closed before the server sent its settings')));
    });
    // Nobody may be waiting when the session fails later; its streams report their own errors.
    this.ready.catch(ignore);
    session.on('error', ignore);
    session.once('goaway', () => {
      this.goingAway = true;
      forget(this);
    });
    session.once('close', () => forget(this));
  }

  /** Whether new WebSockets may use this session. */
  get usable(): boolean {
    return !this.goingAway && !this.session.closed && !this.session.destroyed;
  }

  /** Whether the server advertised extended CONNECT (RFC 8441 §3). */
  get extendedConnect(): boolean {
    return this.session.remoteSettings.enableConnectProtocol === true;
  }

  acquire(): void {
    this.users++;
  }

  /** One user is done; the last one closes the session (after this turn, so a reconnect can reuse it). */
  release(): void {
    if (--this.users > 0) return;
    setImmediate(() => {
      if (this.users === 0 && !this.session.closed) {
        forget(this);
        this.session.close();
      }
    });
  }

  /** @internal */
  get poolKey(): string {
    return this.key;
  }
}

function ignore(): void {
  // Reported elsewhere, or nobody left to tell.
}

const pool = new Map<string, PooledSession>();

function forget(pooled: PooledSession): void {
  if (pool.get(pooled.poolKey) === pooled) pool.delete(pooled.poolKey);
}

function keyOf(target: WebSocketTarget, options: ResolvedConnectOptions): string {
  // Sessions with other TLS settings (trusted CAs, client certificate, …) are never shared.
  return `${target.secure ? 'https' : 'http'}://${target.hostname}:${target.port}|${target.secure ? tlsKey(options.tls) : ''}`;
}

/** The pooled session for the target's origin, if one is open and takes new streams. */
export function existingSession(target: WebSocketTarget, options: ResolvedConnectOptions): PooledSession | undefined {
  const pooled = pool.get(keyOf(target, options));
  return pooled?.usable ? pooled : undefined;
}

/**
 * The session for the target's origin: an open one, or a new one (over `socket` when given: a TLS
 * socket whose ALPN chose h2). The caller acquires it and releases it when done.
 */
export function sessionFor(target: WebSocketTarget, options: ResolvedConnectOptions, socket?: Duplex): PooledSession {
  const existing = socket === undefined ? existingSession(target, options) : undefined;
  if (existing) return existing;
  const key = keyOf(target, options);
  const authority = `${target.secure ? 'https' : 'http'}://${target.host}`;
  const session = http2Connect(authority, {
    // Over an ALPN probe the socket is already made with these settings.
    ...(socket ? { createConnection: () => socket } : target.secure ? tlsConnectOptions(target, options.tls) : {}),
    host: target.hostname,
    port: target.port,
  });
  const pooled = new PooledSession(key, session);
  pool.set(key, pooled);
  return pooled;
}
