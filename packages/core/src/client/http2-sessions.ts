/**
 * HTTP/2 sessions shared by the client's WebSockets: one session per origin (and TLS settings)
 * carries every WebSocket opened to it as a stream (RFC 8441), instead of a TCP and TLS handshake
 * each. A session closes once its last WebSocket has.
 */
import { type ClientHttp2Session, connect as http2Connect } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { ResolvedConnectOptions } from './options.js';
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

/** Identities of `ca` values, so sessions with different trusted CAs are never shared. */
const caIds = new WeakMap<object, number>();
let nextCaId = 0;
function caKey(ca: ResolvedConnectOptions['ca']): string {
  if (ca === undefined) return '';
  if (typeof ca === 'string') return ca;
  let id = caIds.get(ca as object);
  if (id === undefined) caIds.set(ca as object, (id = ++nextCaId));
  return `#${id}`;
}

function keyOf(target: WebSocketTarget, options: ResolvedConnectOptions): string {
  return `${target.secure ? 'https' : 'http'}://${target.hostname}:${target.port}|${options.rejectUnauthorized}|${caKey(options.ca)}`;
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
    // A name for SNI and certificate checks, never an IP address (RFC 6066 §3).
    servername: target.servername,
    host: target.hostname,
    port: target.port,
    ca: options.ca,
    rejectUnauthorized: options.rejectUnauthorized,
    ...(socket ? { createConnection: () => socket } : {}),
  });
  const pooled = new PooledSession(key, session);
  pool.set(key, pooled);
  return pooled;
}
