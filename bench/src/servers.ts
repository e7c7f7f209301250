/**
 * The servers under test. Adding one is a file in servers/ (a few lines around `serve()` from
 * ../src/harness.ts) plus one line here. Every server runs in every scenario it can, interleaved
 * with the others round by round.
 */
export interface ServerSpec {
  /** Column name in the results; `ws` and `wsup` are the two every ratio is made of. */
  name: string;
  /** Path relative to bench/. */
  file: string;
  /** What it is, for the README-style legend printed with the results. */
  about: string;
  /** Extra environment for the server process. */
  env?: Record<string, string>;
  /**
   * False for a server that can never negotiate permessage-deflate, so the compressed scenario
   * skips it. Leave unset for anything that might: a server that does not agree to deflate at run
   * time is reported n/a for that scenario, which is how wsup shows until `compress` lands.
   */
  deflate?: false;
  /**
   * True for a server that also serves the broadcast scenario: a connection to `/sub` receives
   * every message published by a connection to `/pub`. Others skip it.
   */
  broadcast?: true;
  /** True for a reference that only the idle scenario measures (its echo is another server's). */
  idleOnly?: true;
}

export const SERVERS: ServerSpec[] = [
  {
    name: 'raw-net',
    file: 'servers/raw-net.ts',
    about:
      'node:net, canned 101, in-place frame echo; broadcast: each publisher chunk rewritten once, written to every subscriber. The ceiling for a Node server',
    deflate: false,
    broadcast: true,
  },
  {
    name: 'raw-net-message',
    file: 'servers/raw-net-message.ts',
    about:
      'node:net, canned 101, unmasked in place by bufferutil, each message joined into one Buffer and written back; broadcast: each message framed once, a turn’s frames joined and written to every subscriber. The ceiling for any API that hands out whole messages',
    deflate: false,
    broadcast: true,
  },
  {
    name: 'http-floor',
    file: 'servers/http-floor.ts',
    about:
      "node:http's 'upgrade' event, the accept key and one write of the 101, then raw-net's echo: the least a handshake on node:http costs; broadcast: raw-net's fan-out over sockets node:http accepted",
    deflate: false,
    broadcast: true,
  },
  {
    name: 'http-iter-floor',
    file: 'servers/http-iter-floor.ts',
    about:
      "node:http's request handler holding req, res and its frame suspended on one promise for the connection's life (what a `for await` handler keeps), then raw-net's echo: the least such a handler costs. Idle scenario only",
    deflate: false,
    idleOnly: true,
  },
  // The same floor behind each framework's router, for the adapters' handshakes.
  {
    name: 'express-floor',
    file: 'servers/express-floor.ts',
    about:
      "Express 5 routing the upgrade request (as wsup's router hands it to the app), the route writing the 101 itself, then raw-net's echo: the least a handshake through Express costs. Idle scenario only",
    deflate: false,
    idleOnly: true,
  },
  {
    name: 'fastify-floor',
    file: 'servers/fastify-floor.ts',
    about:
      "Fastify 5 routing the upgrade request, the route hijacking the reply and writing the 101 itself, then raw-net's echo: the least a handshake through Fastify costs. Idle scenario only",
    deflate: false,
    idleOnly: true,
  },
  {
    name: 'koa-floor',
    file: 'servers/koa-floor.ts',
    about:
      "Koa 3 and @koa/router routing the upgrade request, the route writing the 101 itself (ctx.respond = false), then raw-net's echo: the least a handshake through Koa costs. Idle scenario only",
    deflate: false,
    idleOnly: true,
  },
  {
    name: 'uws',
    file: 'servers/uws.ts',
    about: 'uWebSockets.js (npm uwebsockets), native C++ reference; broadcast: its topics (ws.subscribe, app.publish)',
    broadcast: true,
  },
  {
    name: 'ws',
    file: 'servers/ws.ts',
    about: 'ws, pure JS (WS_NO_BUFFER_UTIL, WS_NO_UTF_8_VALIDATE): the baseline of every ratio; broadcast: the loop over wss.clients',
    env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
    broadcast: true,
  },
  { name: 'ws-native', file: 'servers/ws.ts', about: 'ws with its native addons bufferutil and utf-8-validate installed' },
  {
    name: 'wsup',
    file: 'servers/wsup.ts',
    about: "wsup on node:http, echo from the 'message' event; broadcast: ws.subscribe + hub.publish",
    broadcast: true,
  },
  { name: 'wsup-iter', file: 'servers/wsup-iter.ts', about: 'wsup on node:http, echo from `for await (const msg of ws)`' },
  {
    name: 'iter-floor',
    file: 'servers/iter-floor.ts',
    about:
      "wsup's 'message' event feeding a minimal `for await` channel (an array, the waiting resolve, Promise.resolve per queued message), echo from the loop: the least a `for await` over messages costs",
  },
  // Framework adapters: the same echo behind each framework's router. Messages never go through
  // the framework, so they differ from `wsup` by what routing the upgrade request costs.
  { name: 'wsup-express', file: 'servers/wsup-express.ts', about: '@wsup/express: Express 5 route, res.upgrade()' },
  { name: 'wsup-fastify', file: 'servers/wsup-fastify.ts', about: '@wsup/fastify: Fastify 5 route, reply.upgrade()' },
  { name: 'wsup-koa', file: 'servers/wsup-koa.ts', about: '@wsup/koa: Koa 3 + @koa/router route, ctx.upgrade()' },
];

/** The numerator and the denominator of every ratio. */
export const SUBJECT = 'wsup';
export const BASELINE = 'ws';
export const CEILING = 'raw-net';
