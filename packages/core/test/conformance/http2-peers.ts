/**
 * The conformance suites over HTTP/2 (RFC 8441): the frame layer is the same, only the opening
 * handshake and the transport differ. Each WebSocket is an extended CONNECT stream, and the
 * stream's END_STREAM and RST_STREAM stand where TCP's FIN and RST stand over HTTP/1.1.
 *
 * - Server suite: one HTTP/2 session to the implementation carries every case, each on a stream
 *   of its own, as a browser's page would (a case that ends in a reset must not disturb the others).
 * - Client suite: a scripted HTTP/2 server that advertises extended CONNECT, answers each stream
 *   200 as the case says and hands it over as a peer in the server role.
 *
 * Written on node:http2 directly: the harness shares no code with wsup.
 */
import {
  connect,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  createServer,
  type Http2Session,
  type IncomingHttpHeaders,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Opened, RequestSpec } from './client-peer.js';
import { agree, peerDeflate, type PeerDeflate } from './deflate-codec.js';
import { ScriptedPeer } from './peer.js';
import type { Answer, ScriptedRequest, ScriptedServer } from './server-peer.js';

/** Response or request headers in the harness's shape: lower-case names, no pseudo-headers, lists joined. */
function plainHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}

/** The server suite's side: one session, a stream per case. */
export class Http2ClientPeers {
  private constructor(
    private readonly session: ClientHttp2Session,
    private readonly port: number,
  ) {}

  static async connect(port: number): Promise<Http2ClientPeers> {
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', (s) =>
        s.enableConnectProtocol ? resolve() : reject(new Error('no SETTINGS_ENABLE_CONNECT_PROTOCOL')),
      );
      session.once('error', reject);
    });
    return new Http2ClientPeers(session, port);
  }

  /** Opens a case's WebSocket as an extended CONNECT stream and checks the 200 (RFC 8441 §5). */
  async open(spec: RequestSpec = {}, ms = 5000): Promise<Opened> {
    const headers: Record<string, string> = {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'http',
      ':authority': `127.0.0.1:${this.port}`,
      ':path': spec.path ?? '/',
      'sec-websocket-version': '13',
    };
    if (spec.extensions !== undefined) headers['sec-websocket-extensions'] = spec.extensions;
    if (spec.protocols !== undefined) headers['sec-websocket-protocol'] = spec.protocols;
    for (const [k, v] of Object.entries(spec.headers ?? {})) headers[k.toLowerCase()] = v;
    const stream: ClientHttp2Stream = this.session.request(headers, { endStream: false });
    stream.on('error', () => {});
    const response = await Promise.race([
      new Promise<IncomingHttpHeaders | undefined>((resolve) => {
        stream.once('response', resolve);
        stream.once('close', () => resolve(undefined));
      }),
      sleep(ms).then(() => undefined),
    ]);
    if (!response) {
      stream.destroy();
      return { ok: false, problem: 'no response to the extended CONNECT' };
    }
    const status = Number(response[':status']);
    const head = { status, headers: plainHeaders(response) };
    const problems: string[] = [];
    if (status !== 200) problems.push(`status ${status} instead of 200`);
    // Nothing may be agreed that was not offered (RFC 6455 §4.1, checks 5 and 6; RFC 8441 §5).
    if (spec.extensions === undefined && head.headers['sec-websocket-extensions'] !== undefined) {
      problems.push(`Sec-WebSocket-Extensions: ${head.headers['sec-websocket-extensions']} answered to no offer`);
    }
    if (spec.protocols === undefined && head.headers['sec-websocket-protocol'] !== undefined) {
      problems.push(`Sec-WebSocket-Protocol: ${head.headers['sec-websocket-protocol']} answered to no offer`);
    }
    let deflate: PeerDeflate | undefined;
    if (spec.extensions !== undefined) {
      const agreed = agree(spec.extensions, head.headers['sec-websocket-extensions']);
      if (typeof agreed === 'string') problems.push(agreed);
      else if (agreed) deflate = peerDeflate(agreed, 'client');
    }
    if (problems.length > 0) {
      stream.destroy();
      return { ok: false, problem: `handshake: ${problems.join('; ')}` };
    }
    const peer = new ScriptedPeer(stream, { masks: true, expectMasked: false, ...(deflate ? { deflate } : {}) });
    // As over HTTP/1.1: let the server start reading before the first chop arrives.
    await sleep(1);
    await nextTurn();
    return { ok: true, peer, head };
  }

  close(): void {
    this.session.destroy();
  }
}

/** The client suite's side: answers every extended CONNECT 200 as `answer` says and hands over its peer. */
export async function startScriptedHttp2Server(
  onPeer: (peer: ScriptedPeer, req: ScriptedRequest) => void,
  answer: (req: ScriptedRequest) => Answer = () => ({}),
): Promise<ScriptedServer> {
  const sessions = new Set<Http2Session>();
  const server = createServer({ settings: { enableConnectProtocol: true } });
  server.on('session', (s) => {
    sessions.add(s);
    s.on('error', () => {});
    s.once('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 400 });
      stream.end();
      return;
    }
    const req: ScriptedRequest = { path: String(headers[':path'] ?? '/'), headers: plainHeaders(headers) };
    const a = answer(req);
    const out: Record<string, string> = { ':status': '200' };
    if (a.extensions !== undefined) out['sec-websocket-extensions'] = a.extensions;
    for (const line of a.lines ?? []) {
      const i = line.indexOf(':');
      out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    stream.respond(out);
    const agreed = agree(req.headers['sec-websocket-extensions'], a.extensions);
    const deflate = agreed !== null && typeof agreed === 'object' ? peerDeflate(agreed, 'server') : undefined;
    onPeer(new ScriptedPeer(stream, { masks: false, expectMasked: true, ...(deflate ? { deflate } : {}) }), req);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
