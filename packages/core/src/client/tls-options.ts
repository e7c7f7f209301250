/**
 * The client's TLS settings: validated once, turned into one secure context per connection
 * attempt (so a wrong passphrase or a key that does not match its certificate is an option error
 * at the call, on every path), and named for the HTTP/2 session pool.
 */
import { isIP } from 'node:net';
import { type ConnectionOptions, createSecureContext, type PeerCertificate, type SecureContextOptions, type SecureVersion } from 'node:tls';
import { rangeError, typeError } from '../errors.js';
import { boolean, oneOf } from '../option-validators.js';
import { hasLineBreakOrNul } from '../protocol/validation.js';
import type { WebSocketTarget } from './url.js';

/** The TLS options of `ConnectOptions`, validated; `undefined` where not given. */
export interface ClientTls {
  rejectUnauthorized: boolean;
  ca: SecureContextOptions['ca'] | undefined;
  cert: SecureContextOptions['cert'] | undefined;
  key: SecureContextOptions['key'] | undefined;
  pfx: SecureContextOptions['pfx'] | undefined;
  passphrase: string | undefined;
  ciphers: string | undefined;
  minVersion: SecureVersion | undefined;
  maxVersion: SecureVersion | undefined;
  servername: string | undefined;
  checkServerIdentity: ((hostname: string, cert: PeerCertificate) => Error | undefined) | undefined;
}

const VERSIONS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Options that go into the secure context (the rest are per connection). */
const CONTEXT_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'ciphers', 'minVersion', 'maxVersion'] as const;

/** PEM or DER material: a string, bytes, or a list of them (`key` and `pfx` entries may be objects with a passphrase). */
function material(value: unknown, name: string, entryObjects: boolean): void {
  if (value === undefined) return;
  const ok = (v: unknown) => typeof v === 'string' || ArrayBuffer.isView(v) || (entryObjects && typeof v === 'object' && v !== null);
  if (Array.isArray(value) ? !value.every(ok) : typeof value !== 'string' && !ArrayBuffer.isView(value)) {
    throw typeError(`${name} must be PEM text, bytes, or a list of them`);
  }
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw typeError(`${name} must be a string, got ${typeof value}`);
  return value;
}

/**
 * Validates the TLS options of `o` (a `ConnectOptions` object).
 * @throws {TypeError | RangeError} with `code: 'ERR_INVALID_OPTION'`.
 */
export function resolveTls(o: Record<string, unknown>): ClientTls {
  const insecure = boolean(o.insecure, 'insecure', false);
  const rejectUnauthorized = boolean(o.rejectUnauthorized, 'rejectUnauthorized', !insecure);
  if (insecure && o.rejectUnauthorized === true) throw typeError('insecure: true contradicts rejectUnauthorized: true');
  material(o.ca, 'ca', false);
  material(o.cert, 'cert', false);
  material(o.key, 'key', true);
  material(o.pfx, 'pfx', true);
  if ((o.cert === undefined) !== (o.key === undefined) && o.pfx === undefined) {
    throw typeError('a client certificate needs both cert and its key (or pfx)');
  }
  const servername = optionalString(o.servername, 'servername');
  if (servername !== undefined && (servername === '' || hasLineBreakOrNul(servername) || isIP(servername) !== 0)) {
    // RFC 6066 §3: the server name is a DNS host name; "Literal IPv4 and IPv6 addresses are not permitted".
    throw typeError(`servername must be a DNS host name (not an IP address, RFC 6066 §3), got ${JSON.stringify(servername)}`);
  }
  if (o.checkServerIdentity !== undefined && typeof o.checkServerIdentity !== 'function') {
    throw typeError('checkServerIdentity must be a function (hostname, cert) => Error | undefined');
  }
  const minVersion = o.minVersion === undefined ? undefined : oneOf(o.minVersion, 'minVersion', VERSIONS, 'TLSv1.2');
  const maxVersion = o.maxVersion === undefined ? undefined : oneOf(o.maxVersion, 'maxVersion', VERSIONS, 'TLSv1.3');
  if (minVersion && maxVersion && VERSIONS.indexOf(minVersion) > VERSIONS.indexOf(maxVersion)) {
    throw rangeError(`minVersion ${minVersion} is above maxVersion ${maxVersion}`);
  }
  return {
    rejectUnauthorized,
    ca: o.ca as ClientTls['ca'],
    cert: o.cert as ClientTls['cert'],
    key: o.key as ClientTls['key'],
    pfx: o.pfx as ClientTls['pfx'],
    passphrase: optionalString(o.passphrase, 'passphrase'),
    ciphers: optionalString(o.ciphers, 'ciphers'),
    minVersion,
    maxVersion,
    servername,
    checkServerIdentity: o.checkServerIdentity as ClientTls['checkServerIdentity'],
  };
}

/**
 * The `tls.connect` options (also `https.request`'s and `http2.connect`'s) for a `wss:` target.
 * The context-level options are turned into a secure context here, where Node's own checks of the
 * material (a malformed certificate, a wrong passphrase, a key that is not the certificate's)
 * become option errors; they stay in the result too, because agents name their socket pools by them.
 * @throws {TypeError} `ERR_INVALID_OPTION` when Node refuses the material.
 */
export function tlsConnectOptions(target: WebSocketTarget, tls: ClientTls): ConnectionOptions {
  const out: ConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized };
  // SNI names a host, never an IP address (RFC 6066 §3): the URL's host unless it is one.
  const servername = tls.servername ?? target.servername;
  if (servername !== undefined) out.servername = servername;
  if (tls.checkServerIdentity) out.checkServerIdentity = tls.checkServerIdentity;
  let contextual = false;
  for (const k of CONTEXT_KEYS) {
    if (tls[k] === undefined) continue;
    (out as Record<string, unknown>)[k] = tls[k];
    contextual = true;
  }
  // Without any, Node's default context does (what tls.connect would make anyway).
  if (!contextual) return out;
  try {
    out.secureContext = createSecureContext(out);
  } catch (err) {
    throw Object.assign(typeError(`invalid TLS options: ${(err as Error).message}`), { cause: err });
  }
  return out;
}

/** Identities of option objects (buffers, lists, functions), so sessions are shared only by equal settings. */
const ids = new WeakMap<object, number>();
let nextId = 0;
function identity(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'object' && typeof value !== 'function') return String(value);
  let id = ids.get(value as object);
  if (id === undefined) ids.set(value as object, (id = ++nextId));
  return `#${id}`;
}

/** A key naming the TLS settings, for the HTTP/2 session pool. */
export function tlsKey(tls: ClientTls): string {
  return [tls.rejectUnauthorized, tls.servername, ...CONTEXT_KEYS.map((k) => identity(tls[k])), identity(tls.checkServerIdentity)].join(
    '|',
  );
}
