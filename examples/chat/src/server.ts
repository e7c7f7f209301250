/**
 * `pnpm demo` (or `PORT=4000 pnpm --dir examples/chat start`): the chat on http://127.0.0.1:3000/.
 * Ctrl-C closes every WebSocket with 1001 first, so open pages show why and reconnect once the
 * server is back.
 */
import { createChatServer } from './app.js';

const chat = await createChatServer({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' });
console.log(`wsup chat on ${chat.url}`);
console.log(`open it in two browser windows; ${chat.url}#myroom opens the room "myroom". Ctrl-C stops.`);

let stopping = false;
function stop(): void {
  if (stopping) process.exit(1); // a second Ctrl-C does not wait
  stopping = true;
  console.log('closing connections…');
  chat.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
