/** `PORT=4000 pnpm --dir examples/metrics start`, then `curl http://127.0.0.1:4000/metrics`. */
import { start } from './app.js';

const { url } = await start(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
console.log(`metrics example on ${url}/ — WebSocket echo at ${url.replace('http', 'ws')}/echo, Prometheus metrics at ${url}/metrics`);
