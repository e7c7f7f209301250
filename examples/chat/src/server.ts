/**
 * `pnpm demo` (or `PORT=4000 pnpm --dir examples/chat start`): the chat on http://127.0.0.1:3000/.
 * With `REDIS_URL=redis://host:port`, rooms live in that Redis, so several of these processes
 * (on different ports or machines) serve the same rooms; `pnpm --dir examples/chat cluster`
 * starts two with a private redis-server. With `REDIS_CLUSTER=host:port,host:port` (seed nodes of
 * a Redis Cluster) or `NATS_URL=nats://host:port`, messages cross processes through that broker
 * while each process keeps its own rooms' history and member list.
 *
 * Ctrl-C closes every WebSocket with 1001 first, so open pages show why and reconnect once the
 * server is back (or, behind a load balancer, to another process).
 */
import { createChatServer, type ChatServer } from './app.js';

const redisUrl = process.env.REDIS_URL || undefined;
const redisCluster = process.env.REDIS_CLUSTER?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const natsUrl = process.env.NATS_URL || undefined;
const broker = redisCluster?.length ? { redisCluster } : natsUrl ? { nats: natsUrl } : undefined;
let chat: ChatServer;
try {
  chat = await createChatServer({
    port: Number(process.env.PORT ?? 3000),
    host: process.env.HOST ?? '127.0.0.1',
    redis: redisUrl ? { url: redisUrl } : undefined,
    broker,
  });
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
const via = redisUrl
  ? ' (rooms in Redis)'
  : redisCluster?.length
    ? ' (messages through the Redis Cluster)'
    : natsUrl
      ? ' (messages through NATS)'
      : '';
console.log(`wsup chat on ${chat.url}${via}`);
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
// Started by the cluster command (with an IPC channel): stop with it, even if it was killed.
if (process.send) process.on('disconnect', stop);
