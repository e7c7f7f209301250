/** Naming what went wrong while reaching a server, from the socket's error and how far it got. */
import { ErrorCode, WebSocketError } from '../errors.js';
import type { WebSocketTarget } from './url.js';

/** What a connection attempt is waiting for, to name a failure precisely. */
export type DialPhase = 'lookup' | 'connect' | 'tls' | 'response' | 'body';

export const PHASE_TEXT: Record<DialPhase, string> = {
  lookup: 'the DNS lookup',
  connect: 'the TCP connection',
  tls: 'the TLS handshake',
  response: 'the 101 response',
  body: 'the response body',
};

/** Resolver errors (getaddrinfo's EAI_* family, as Node names them). */
const DNS_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NODATA',
  'EAI_NONAME',
  'EAI_ADDRFAMILY',
  'EAI_SERVICE',
  'EAI_SOCKTYPE',
]);

/** A one-line description of a socket error: its message, or its code for OpenSSL's raw dumps. */
function describe(err: Error): string {
  const code = (err as { code?: unknown }).code;
  const line = (err.message || '').split('\n')[0]!.trim();
  if (line === '' || /^[0-9A-F]+:error:/.test(line)) return typeof code === 'string' ? code : 'unknown error';
  return typeof code === 'string' && !line.includes(code) ? `${line} (${code})` : line;
}

function errorCodes(err: Error): string[] {
  if (err instanceof AggregateError) return err.errors.map((e: { code?: string }) => String(e?.code));
  return [String((err as { code?: string }).code)];
}

/** Whether a socket error came from TLS (OpenSSL's and Node's TLS codes). */
export function isTlsError(err: Error): boolean {
  const code = String((err as { code?: unknown }).code ?? '');
  return /^ERR_(TLS|SSL)_|CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME_MISMATCH/.test(code);
}

/**
 * The typed error for a socket error met in `phase`. A TLS error is one in any phase: under
 * TLS 1.3 a server refuses the client's certificate only after the client's handshake is done
 * (RFC 8446 §4.4.2.4), while the request is on its way.
 */
export function dialError(err: Error, phase: DialPhase, target: WebSocketTarget): WebSocketError {
  const codes = errorCodes(err);
  const detail = describe(err);
  // The address that failed: the error's own when it names one (a proxy's, through an agent).
  const { address, port } = err as { address?: unknown; port?: unknown };
  const where = typeof address === 'string' && typeof port === 'number' ? `${address}:${port}` : `${target.hostname}:${target.port}`;
  if (phase === 'lookup' || codes.some((c) => DNS_CODES.has(c)) || (err as { syscall?: string }).syscall === 'getaddrinfo') {
    return new WebSocketError(ErrorCode.DnsLookupFailed, `could not resolve ${target.hostname}: ${detail}`, { cause: err });
  }
  if (codes.every((c) => c === 'ECONNREFUSED')) {
    return new WebSocketError(ErrorCode.ConnectionRefused, `connection to ${where} refused`, { cause: err });
  }
  if (phase === 'tls' || isTlsError(err)) {
    return new WebSocketError(ErrorCode.TlsFailed, `TLS handshake with ${where} failed: ${detail}`, { cause: err });
  }
  if (phase === 'connect') return new WebSocketError(ErrorCode.ConnectFailed, `could not connect to ${where}: ${detail}`, { cause: err });
  return new WebSocketError(ErrorCode.HandshakeClosed, `the connection failed during the opening handshake: ${detail}`, { cause: err });
}
