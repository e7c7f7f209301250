import { isIP } from 'node:net';
import { ErrorCode, WebSocketError } from '../errors.js';

/** Where a `ws://` or `wss://` URL says to connect, and what to ask for there. */
export interface WebSocketTarget {
  /** Whether the connection uses TLS (`wss:`). */
  secure: boolean;
  /** Host name or IP address to connect to (IPv6 without brackets). */
  hostname: string;
  port: number;
  /** `Host` header value: host, plus the port when it is not the scheme's default. */
  host: string;
  /** Request target: path and query. */
  path: string;
  /** TLS server name to send (SNI): the host name, or undefined for IP addresses (RFC 6066 §3). */
  servername: string | undefined;
  /** The URL as normalized by the WHATWG parser. */
  href: string;
}

function invalid(message: string, cause?: unknown): WebSocketError {
  return new WebSocketError(ErrorCode.InvalidUrl, message, { cause });
}

/**
 * The port written in a URL string, checked before the WHATWG parser sees it: the parser rejects
 * an out-of-range port as an invalid URL, and a bad port deserves its own error.
 */
function checkWrittenPort(url: string): void {
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#\\]*)/.exec(url)?.[1];
  if (authority === undefined) return;
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  let colon: number;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    // An unclosed IPv6 bracket is the URL parser's to reject.
    if (close === -1) return;
    colon = hostPort.indexOf(':', close);
  } else {
    colon = hostPort.lastIndexOf(':');
  }
  if (colon === -1) return;
  const port = hostPort.slice(colon + 1);
  // An empty port means the default, as in `ws://host:/`.
  if (port === '') return;
  if (!/^[0-9]+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new WebSocketError(ErrorCode.InvalidPort, `invalid port ${JSON.stringify(port)}: must be a number from 1 to 65535`);
  }
}

/**
 * Validates a WebSocket URL (RFC 6455 §3). Throws `ERR_INVALID_URL` for anything that is not an
 * absolute `ws:`/`wss:` URL with a host, or that carries a fragment or credentials, and
 * `ERR_INVALID_PORT` for a port outside 1–65535.
 */
export function parseWebSocketUrl(input: string | URL): WebSocketTarget {
  let url: URL;
  if (input instanceof URL) {
    url = input;
  } else if (typeof input === 'string') {
    const scheme = /^\s*([A-Za-z][A-Za-z0-9+.-]*):/.exec(input)?.[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== 'ws' && scheme !== 'wss') {
      throw invalid(`unsupported URL scheme "${scheme}:"; use ws: or wss:`);
    }
    checkWrittenPort(input.trim());
    try {
      url = new URL(input);
    } catch (err) {
      throw invalid(`invalid URL ${JSON.stringify(input.slice(0, 200))}`, err);
    }
  } else {
    throw invalid(`the URL must be a string or a URL object, got ${input === null ? 'null' : typeof input}`);
  }

  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw invalid(`unsupported URL scheme "${url.protocol}"; use ws: or wss:`);
  }
  if (url.hostname === '') throw invalid('the URL has no host');
  if (url.hash !== '' || url.href.endsWith('#')) {
    // RFC 6455 §3: fragment identifiers are meaningless for WebSocket URIs and must not be used.
    throw invalid('WebSocket URLs cannot have a fragment (#…)');
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid('credentials in the URL are not sent; pass an Authorization header in `headers` instead');
  }
  if (url.port === '0') {
    throw new WebSocketError(ErrorCode.InvalidPort, 'invalid port "0": must be a number from 1 to 65535');
  }

  const secure = url.protocol === 'wss:';
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    secure,
    hostname,
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    host: url.host,
    path: `${url.pathname || '/'}${url.search}`,
    servername: isIP(hostname) === 0 ? hostname : undefined,
    href: url.href,
  };
}
