/**
 * The wsup server under attack: core's `upgrade()` in a plain node:http handler, routed by
 * `handleUpgrades`, with the echo route of the README (`compress: true`, heartbeat off, every
 * other limit at its default). Run by the harness as
 * `node --conditions=@wsup/source --import tsx --expose-gc wsup-server.ts`, so wsup comes from
 * the workspace sources.
 */
import { createServer } from 'node:http';
import { handleUpgrades, upgrade } from '@wsup/core';
import { readConfig, serve, Tally } from './child-kit.js';

const config = readConfig();
const tally = new Tally();

const server = createServer({ connectionsCheckingInterval: config.connectionsCheckingInterval }, async (req, res) => {
  if (req.url !== '/echo') {
    res.end('hello');
    return;
  }
  // A refused handshake (403 cross-origin, 400, 426…) is answered by upgrade(), which throws;
  // handleUpgrades stops that error, as it does for any plain node:http route.
  const ws = upgrade(req, res, { compress: true });
  tally.open();
  void ws.closed.then((info) => tally.closed(info.code, info.error?.code));
  for await (const msg of ws) ws.send(msg.data, msg.binary);
});
const router = handleUpgrades(server, { handshakeTimeout: config.handshakeTimeout });

serve(server, tally, () => router.clients.size, 'wsup (workspace sources)');
