/** wsup on plain node:http, echoing from the `message` event. */
import { createServer } from 'node:http';
import { handleUpgrades, upgrade, type UpgradeOptions } from '@wsup/core';
import { listen, serve } from '../src/harness.js';

serve(({ deflate }) => {
  // `compress` is not part of UpgradeOptions yet. Going through a variable keeps this file
  // compiling today (no excess-property check) and once the option lands; until then the core
  // ignores the key, the handshake carries no permessage-deflate, and the generator reports the
  // compressed scenario as n/a for wsup instead of measuring uncompressed echoes.
  const options: UpgradeOptions & { compress?: boolean } = {};
  if (deflate) options.compress = true;

  const server = createServer((req, res) => {
    let ws;
    try {
      ws = upgrade(req, res, options);
    } catch {
      return; // upgrade() already answered with the right status
    }
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  });
  handleUpgrades(server);
  return listen(server);
});
