/**
 * The ws server the hostile-load suite compares wsup with: a `WebSocketServer` on node:http with
 * the echo from ws's README, permessage-deflate on, and the limits wsup has where ws has the same
 * knob: `maxPayload` at wsup's default (16 MiB; ws's own is 100 MiB) and the server's
 * `headersTimeout` at wsup's `handshakeTimeout`. ws has no equivalent of wsup's `maxBuffered`,
 * `maxFragments`, receive high-water mark or origin check, so none is added.
 */
import { isUtf8 } from 'node:buffer';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { WebSocketServer } from 'ws';
import { readConfig, serve, Tally } from './child-kit.js';

const config = readConfig();
const tally = new Tally();

const server = createServer({ connectionsCheckingInterval: config.connectionsCheckingInterval }, (_req, res) => {
  res.end('hello');
});
server.headersTimeout = config.handshakeTimeout * 1000;
const wss = new WebSocketServer({ server, path: '/echo', perMessageDeflate: true, maxPayload: 16 * 1024 * 1024 });
wss.on('connection', (ws) => {
  tally.open();
  // Without an 'error' listener a protocol error would be thrown: ws's README adds this one too.
  ws.on('error', (err: Error & { code?: string }) => tally.error(err.code ?? err.message));
  ws.on('close', (code) => tally.closed(code));
  ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
});

// ws requires its optional native addons through CommonJS, so the require cache tells what it took.
const require = createRequire(import.meta.url);
const version = (require('ws/package.json') as { version: string }).version;
const cache = Object.keys(require.cache);
const addons = [
  cache.some((p) => p.includes('/bufferutil/')) ? 'bufferutil' : 'no bufferutil',
  typeof isUtf8 === 'function' ? 'buffer.isUtf8' : 'JS UTF-8 check',
];
serve(server, tally, () => wss.clients.size, `ws ${version} (${addons.join(', ')})`);
