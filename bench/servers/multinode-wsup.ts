/**
 * One node of the multinode group: wsup on plain node:http, `handleUpgrades(server, { hub })` with
 * a hub whose broker is the deployment the bench started (BENCH_BROKER, BENCH_BROKER_ADDRESS).
 * `/sub?t=TOPIC` subscribes the WebSocket to TOPIC; every message from `/pub?t=TOPIC` is published
 * to TOPIC with `hub.publish`: delivered to this node's subscribers and, through the broker, to the
 * other nodes'.
 */
import { createServer } from 'node:http';
import { type Broker, handleUpgrades, Hub, upgrade, type WebSocket } from '@wsup/core';
import { listen, serve } from '../src/harness.js';
import type { BrokerAddress } from '../src/multinode-brokers.js';

type BrokerClass = new (options: Record<string, unknown>) => Broker;

/** The broker packages are imported by name at run time: one being written may not exist yet. */
async function brokerClass(pkg: string, name: string): Promise<BrokerClass> {
  const mod = (await import(pkg)) as Record<string, unknown>;
  const ctor = mod[name];
  if (typeof ctor !== 'function') throw new Error(`${pkg} exports no ${name}`);
  return ctor as BrokerClass;
}

export async function makeBroker(kind: string, address: BrokerAddress): Promise<Broker> {
  if (address.kind === 'nats') {
    const NatsBroker = await brokerClass('@wsup/nats', 'NatsBroker');
    return new NatsBroker({ servers: address.servers });
  }
  const RedisBroker = await brokerClass('@wsup/redis', 'RedisBroker');
  if (kind === 'redis-cluster') return new RedisBroker({ cluster: address.nodes });
  const { host, port } = address.nodes[0]!;
  return new RedisBroker({ connection: { host, port } });
}

serve(async () => {
  const kind = process.env.BENCH_BROKER ?? 'redis';
  const address = JSON.parse(process.env.BENCH_BROKER_ADDRESS ?? '{}') as BrokerAddress;
  const hub = new Hub({ broker: await makeBroker(kind, address) });
  hub.on('error', (err) => {
    // A broker failure loses messages: the generator sees the gap and fails the run, saying why.
    console.error(`[server ${process.env.BENCH_SERVER}] hub error: ${err.code} ${err.message}`);
  });
  const server = createServer((req, res) => {
    let ws: WebSocket;
    try {
      ws = upgrade(req, res);
    } catch {
      return; // upgrade() already answered with the right status
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const topic = url.searchParams.get('t') ?? 'feed';
    if (url.pathname === '/sub') ws.subscribe(topic);
    else if (url.pathname === '/pub') ws.on('message', (msg) => hub.publish(topic, msg.data, msg.binary));
    else ws.close(1008, 'unknown path');
  });
  handleUpgrades(server, { hub });
  return { port: await listen(server), info: `${kind} broker` };
});
