/**
 * The default origin policy: a browser's upgrade is accepted only from a page of the same origin
 * as the server, against cross-site WebSocket hijacking. A WebSocket handshake is not subject to
 * the same-origin policy or CORS (RFC 6455 §10.2 leaves the `Origin` check to the server), so
 * without this check any site a user visits can open a WebSocket to this server carrying the
 * user's cookies and act as them.
 */
import type { IncomingHttpHeaders } from 'node:http';

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };

// host = uri-host [ ":" port ] (RFC 9110 §7.2); an IPv6 literal keeps its brackets.
const HOST = /^(\[[0-9a-f:.]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/i;

/** The host the client addressed: `:authority` over HTTP/2, `Host` over HTTP/1.1, or the proxy's forwarded host. */
export function addressedHost(headers: IncomingHttpHeaders, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = forwardedHost(headers);
    if (forwarded !== undefined) return forwarded;
  }
  const authority = headers[':authority'];
  return typeof authority === 'string' ? authority : headers.host;
}

// The proxy nearest the client appends first: the first entry is what the browser addressed.
function forwardedHost(headers: IncomingHttpHeaders): string | undefined {
  const forwarded = headers.forwarded;
  if (typeof forwarded === 'string') {
    const first = forwarded.split(',')[0]!;
    for (const pair of first.split(';')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === 'host')
        return pair
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1');
    }
  }
  const xfh = headers['x-forwarded-host'];
  const value = Array.isArray(xfh) ? xfh[0] : xfh;
  if (value === undefined) return undefined;
  return value.split(',', 1)[0]?.trim() || undefined;
}

/**
 * Whether a serialized origin (`https://example.com:8443`) names the host the request was sent
 * to. The scheme is not compared (behind a TLS-terminating proxy the server cannot know it), but
 * a `Host` without a port matches only the origin scheme's default port.
 */
export function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = HOST.exec(host.trim());
  if (!h) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // includes "null", sent by sandboxed frames and file: pages
  }
  const defaultPort = DEFAULT_PORTS[url.protocol];
  if (defaultPort === undefined || url.pathname !== '/' || url.search !== '' || url.username !== '') return false;
  const originPort = url.port || defaultPort;
  const hostPort = h[2] === undefined ? defaultPort : String(Number(h[2]));
  return url.hostname.toLowerCase() === h[1]!.toLowerCase() && originPort === hostPort;
}
