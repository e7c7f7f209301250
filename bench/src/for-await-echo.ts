/**
 * The `for await` echo servers (wsup-iter, iter-floor): node:http with wsup's router, the loop in
 * the request handler itself, so the handler stays suspended holding `req` and `res` as a user's
 * `for await` handler does. They differ only in what the loop reads.
 */
import { createServer } from 'node:http';
import { handleUpgrades, type Message, upgrade, type WebSocket } from '@wsup/core';
import { listen, serve } from './harness.js';

export function serveForAwaitEcho(messagesOf: (ws: WebSocket) => AsyncIterable<Message>): void {
  serve(({ deflate }) => {
    const server = createServer(async (req, res) => {
      let ws: WebSocket;
      try {
        ws = upgrade(req, res, { compress: deflate });
      } catch {
        return;
      }
      for await (const msg of messagesOf(ws)) ws.send(msg.data, msg.binary);
    });
    handleUpgrades(server);
    return listen(server);
  });
}
