/**
 * One node of the multinode group's Socket.IO comparison: socket.io 4 on node:http with
 * `@socket.io/redis-adapter`'s sharded adapter (SSUBSCRIBE/SPUBLISH, a channel per room, as wsup's
 * RedisBroker uses a channel per topic) on the bench's Redis. A client connecting with
 * `role=sub&t=TOPIC` joins room TOPIC; each `p` event from a client with `role=pub&t=TOPIC` is
 * emitted to the room with `io.to(TOPIC).emit('m', data)`, here and on every other node.
 */
import { createServer } from 'node:http';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { Cluster, Redis } from 'ioredis';
import { Server } from 'socket.io';
import { listen, serve } from '../src/harness.js';
import type { BrokerAddress } from '../src/multinode-brokers.js';

serve(async () => {
  const address = JSON.parse(process.env.BENCH_BROKER_ADDRESS ?? '{}') as BrokerAddress;
  if (address.kind !== 'redis') throw new Error('the Socket.IO nodes need Redis');
  const client = (): Redis | Cluster =>
    address.cluster ? new Cluster(address.nodes) : new Redis({ host: address.nodes[0]!.host, port: address.nodes[0]!.port });
  const pub = client();
  const sub = client();
  const server = createServer();
  const io = new Server(server, { serveClient: false, adapter: createShardedAdapter(pub, sub) });
  io.on('connection', (socket) => {
    const { role, t } = socket.handshake.query as { role?: string; t?: string };
    const topic = t ?? 'feed';
    if (role === 'sub') void socket.join(topic);
    else socket.on('p', (data: string) => io.to(topic).emit('m', data));
  });
  const version = (await import('socket.io/package.json', { with: { type: 'json' } }).catch(() => null))?.default?.version;
  return {
    port: await listen(server),
    info: `socket.io ${version ?? '4'}, sharded redis adapter${address.cluster ? ' on Redis Cluster' : ''}`,
  };
});
