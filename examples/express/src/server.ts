/** `PORT=4000 pnpm --dir examples/express start`, then connect to ws://127.0.0.1:4000/echo?token=secret. */
import type { AddressInfo } from 'node:net';
import { start } from './app.js';

const server = await start(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
const { port } = server.address() as AddressInfo;
console.log(`Express example on http://127.0.0.1:${port}/ — WebSocket echo at ws://127.0.0.1:${port}/echo?token=secret`);
