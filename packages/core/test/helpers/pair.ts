/** A client WebSocket and the server's end of the same connection, in memory (injectUpgrade over duplexPair). */
import { createServer } from 'node:http';
import { setImmediate as turn } from 'node:timers/promises';
import { type ConnectOptions, handleUpgrades, injectUpgrade, type UpgradeOptions, upgrade, type WebSocket } from '@wsup/core';

export async function inMemoryPair(
  options?: UpgradeOptions,
  clientOptions?: ConnectOptions,
): Promise<{ client: WebSocket; server: WebSocket }> {
  let server: WebSocket | undefined;
  const http = createServer((req, res) => {
    server = upgrade(req, res, options);
  });
  handleUpgrades(http);
  const client = await injectUpgrade(http, '/', clientOptions);
  while (server === undefined) await turn();
  return { client, server };
}
