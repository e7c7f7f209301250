import type { Agent } from 'node:http';
import type { PeerCertificate, SecureContextOptions, SecureVersion } from 'node:tls';
import type { WebSocketOptions } from '../connection/options.js';
import { rangeError, typeError } from '../errors.js';
import { checkObject, positiveNumber, seconds } from '../option-validators.js';
import { headerFields, type HeaderFields } from '../protocol/header-grammar.js';
import { hasLineBreakOrNul, isToken } from '../protocol/validation.js';
import { type ClientTls, resolveTls } from './tls-options.js';

/** Options for {@link connect} (and {@link createClient}). */
export interface ConnectOptions extends WebSocketOptions {
  /**
   * Extra request headers (`Authorization`, `Cookie`, …). Names must be tokens and values free
   * of CR, LF and NUL; the handshake's own headers (`Host`, `Upgrade`, `Connection`,
   * `Sec-WebSocket-*`, `Origin`, and body framing headers) cannot be set here.
   */
  headers?: HeaderFields;
  /** Subprotocols to offer, in order of preference: one name or a list. */
  subprotocols?: string | readonly string[];
  /** Alias of `subprotocols`. */
  protocols?: string | readonly string[];
  /** `Origin` header to send, as browsers do. Default: none. */
  origin?: string;
  /**
   * Seconds the whole connection attempt may take: DNS lookup, TCP (and TLS) connect and the
   * opening handshake. Default 10.
   */
  timeout?: number;
  /** Aborts the connection attempt (not an established connection) with `ERR_ABORTED`. */
  signal?: AbortSignal;
  /**
   * Send the handshake through this `http.Agent` (an `https.Agent` for `wss:`), as `ws` does:
   * typically an HTTP CONNECT proxy agent such as `new HttpsProxyAgent('http://proxy:3128')`
   * from `https-proxy-agent`, which tunnels `ws:` and `wss:` alike. The request goes through
   * `http.request`/`https.request` and the 101 gets the same checks as without an agent. A
   * refusal by the proxy (407, 403, …) fails as a {@link HandshakeResponseError} with that
   * status. Not with `http2`. Default: none, the client dials the server itself.
   */
  agent?: Agent;
  /** `wss:` only: trusted CA certificates, replacing Node's default list (PEM). */
  ca?: SecureContextOptions['ca'];
  /** `wss:` only: refuse servers whose certificate does not verify. Default true. */
  rejectUnauthorized?: boolean;
  /** `wss:` only: the same as `rejectUnauthorized: false`, under the name other clients use. Default false. */
  insecure?: boolean;
  /**
   * `wss:` only: the client certificate chain (PEM) for servers that ask for one (mutual TLS),
   * with its private key in `key`.
   */
  cert?: SecureContextOptions['cert'];
  /** `wss:` only: the private key of `cert` (PEM), encrypted with `passphrase` if it is. */
  key?: SecureContextOptions['key'];
  /** `wss:` only: the client certificate and key as one PKCS#12 archive, instead of `cert` and `key`. */
  pfx?: SecureContextOptions['pfx'];
  /** `wss:` only: the passphrase of `key` or `pfx`. */
  passphrase?: string;
  /**
   * `wss:` only: the server name to send (SNI, RFC 6066 §3) and to check the certificate
   * against, when it differs from the URL's host (connecting to an IP address, say). A host
   * name, never an IP address. Default: the URL's host, or none when that is an IP address.
   */
  servername?: string;
  /** `wss:` only: the cipher suites to offer, in OpenSSL's list format (Node's `tls` default otherwise). */
  ciphers?: string;
  /** `wss:` only: the lowest TLS version accepted. Default: Node's (`'TLSv1.2'`). */
  minVersion?: SecureVersion;
  /** `wss:` only: the highest TLS version offered. Default: Node's (`'TLSv1.3'`). */
  maxVersion?: SecureVersion;
  /**
   * `wss:` only: checks the server's certificate against the host name (after the chain
   * verified): return an Error to refuse it. Default: Node's `tls.checkServerIdentity`; a
   * function that pins a certificate usually calls that first.
   */
  checkServerIdentity?: (hostname: string, cert: PeerCertificate) => Error | undefined;
  /** Largest response head accepted, in bytes. Default 16 KiB (Node's own limit). */
  maxHeaderSize?: number;
  /**
   * Open the WebSocket as a stream of an HTTP/2 session (RFC 8441) instead of a connection of its
   * own: `true` always (over `ws:` this is HTTP/2 without TLS, by prior knowledge), `'auto'` over
   * `wss:` when the server offers HTTP/2 and advertises extended CONNECT, HTTP/1.1 otherwise.
   * WebSockets to the same origin share one session. Default false.
   */
  http2?: boolean | 'auto';
}

/** {@link ConnectOptions} after defaults and validation. */
export interface ResolvedConnectOptions {
  /** Extra request header fields, validated. */
  headers: [name: string, value: string][];
  subprotocols: string[];
  origin: string | undefined;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  agent: Agent | undefined;
  /** The TLS options (used for `wss:` only). */
  tls: ClientTls;
  maxHeaderSize: number;
  http2: boolean | 'auto';
}

/** Defaults of the client-only options. */
export const ConnectDefaults = {
  /** Seconds for DNS + connect + handshake. */
  timeout: 10,
  /** Bytes. */
  maxHeaderSize: 16 * 1024,
} as const;

// Headers the handshake writes itself, or that would make the server read a body after the GET;
// two of them with advice on the option that sets them.
const RESERVED_HEADERS = new Map([
  ['host', ''],
  ['upgrade', ''],
  ['connection', ''],
  ['origin', ' (use the origin option)'],
  ['sec-websocket-key', ''],
  ['sec-websocket-version', ''],
  ['sec-websocket-protocol', ' (use the subprotocols option)'],
  ['sec-websocket-extensions', ''],
  ['sec-websocket-accept', ''],
  ['content-length', ''],
  ['transfer-encoding', ''],
]);

function subprotocolList(o: Record<string, unknown>): string[] {
  if (o.subprotocols !== undefined && o.protocols !== undefined) {
    throw typeError('give subprotocols or its alias protocols, not both');
  }
  const value = o.subprotocols ?? o.protocols;
  if (value === undefined) return [];
  const list: unknown[] = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [null];
  const out: string[] = [];
  for (const p of list) {
    if (typeof p !== 'string' || !isToken(p)) throw typeError(`subprotocols must be tokens (RFC 6455 §4.1), got ${JSON.stringify(p)}`);
    if (out.includes(p)) throw typeError(`subprotocol ${p} is listed twice`);
    out.push(p);
  }
  return out;
}

/**
 * Validates the client-only options. The shared {@link WebSocketOptions} are checked by
 * `resolveOptions`, and extension options by `clientExtensionOffers`.
 * @throws {TypeError | RangeError} with `code: 'ERR_INVALID_OPTION'`.
 */
export function resolveConnectOptions(options: ConnectOptions | undefined): ResolvedConnectOptions {
  const o = checkObject(options, 'options');
  if (o.origin !== undefined && (typeof o.origin !== 'string' || hasLineBreakOrNul(o.origin))) {
    throw typeError('origin must be a string without CR, LF or NUL');
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw typeError('signal must be an AbortSignal');
  const http2 = o.http2 ?? false;
  if (http2 !== true && http2 !== false && http2 !== 'auto') throw typeError("http2 must be true, false or 'auto'");
  // What Node's http.request itself asks of an agent.
  if (
    o.agent !== undefined &&
    (typeof o.agent !== 'object' || o.agent === null || typeof (o.agent as { addRequest?: unknown }).addRequest !== 'function')
  ) {
    throw typeError('agent must be an http.Agent (or https.Agent)');
  }
  if (o.agent !== undefined && http2 !== false) {
    throw typeError('agent cannot be used with http2: an HTTP/2 session makes its own connection; use HTTP/1.1 through the agent');
  }
  const maxHeaderSize = positiveNumber(o.maxHeaderSize, 'maxHeaderSize', ConnectDefaults.maxHeaderSize);
  if (!Number.isInteger(maxHeaderSize)) throw rangeError(`maxHeaderSize must be a whole number of bytes, got ${maxHeaderSize}`);
  return {
    headers: headerFields(o.headers, RESERVED_HEADERS),
    subprotocols: subprotocolList(o),
    origin: o.origin as string | undefined,
    timeoutMs: seconds(o.timeout, 'timeout', ConnectDefaults.timeout),
    signal: o.signal as AbortSignal | undefined,
    agent: o.agent as Agent | undefined,
    tls: resolveTls(o),
    maxHeaderSize,
    http2,
  };
}
