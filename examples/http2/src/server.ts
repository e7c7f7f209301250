/**
 * `PORT=4000 pnpm --dir examples/http2 start`, then open the printed https:// URL. The certificate
 * is self-signed and made fresh at every start, so the browser warns once: accept it (or use
 * `--ignore-certificate-errors` in a throwaway Chromium profile).
 */
import { start } from './app.js';

const app = await start({
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
  // Shows in the terminal what the page cannot see: which protocol carried each WebSocket.
  onWebSocket: (ws, req) => {
    const how = req.httpVersion === '2.0' ? 'an extended CONNECT stream over HTTP/2' : `an Upgrade over HTTP/${req.httpVersion}`;
    console.log(`WebSocket opened as ${how}${ws.extensions ? ` (${ws.extensions})` : ''}`);
  },
});
console.log(`wsup over HTTP/2 on ${app.url} (WebSocket echo at /echo; HTTP/1.1 clients welcome on the same port)`);
console.log('the certificate is self-signed: accept the warning in the browser. Ctrl-C stops.');

let stopping = false;
function stop(): void {
  if (stopping) process.exit(1); // a second Ctrl-C does not wait
  stopping = true;
  app.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
