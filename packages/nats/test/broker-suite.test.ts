/**
 * The shared broker suite (test-support/broker-suite.ts) over NATS: one nats-server of its own
 * (an outage is that server killed and started again on the same port), and a cluster of three
 * routed servers with the nodes' brokers connected to different members.
 */
import { once } from 'node:events';
import type { Broker } from '@wsup/core';
import { NatsBroker } from '@wsup/nats';
import { brokerSuite } from '../../../test-support/broker-suite.js';
import { NatsServer } from './helpers/nats-server.js';

/** Messages each broker keeps while NATS is down. */
const BOUND = 50;

async function ready(broker: Broker): Promise<void> {
  const nats = broker as NatsBroker;
  if (!nats.connected) await once(nats, 'connected');
}

let server: NatsServer;

brokerSuite('NATS', {
  setup: async () => {
    server = await NatsServer.start();
  },
  teardown: async () => {
    await server?.stop();
  },
  broker: () => new NatsBroker({ servers: server.url, connection: { reconnectTimeWait: 50 }, maxBufferedMessages: BOUND }),
  ready,
  outage: {
    start: () => server.kill(),
    end: () => server.restart(),
    bound: BOUND,
  },
  capabilities: { crossProcess: true },
});

let members: NatsServer[] = [];
let next = 0;

brokerSuite('NATS cluster', {
  setup: async () => {
    members = await NatsServer.cluster(3);
  },
  teardown: async () => {
    await Promise.all(members.map((m) => m.stop()));
  },
  // Each node on another member, so messages cross the cluster's routes.
  broker: () =>
    new NatsBroker({ servers: members[next++ % members.length]!.url, connection: { reconnectTimeWait: 50 }, maxBufferedMessages: BOUND }),
  ready,
  // NATS routes a subscription's interest to the other members after its own server has
  // acknowledged it: wait until every member would forward the topic's subject.
  propagated: async (broker: Broker, topic: string) => {
    const subject = (broker as NatsBroker).subjectOf(topic);
    for (;;) {
      const interest = await Promise.all(members.map((m) => m.interest(subject)));
      if (interest.every((n) => n > 0)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  },
  // No outage case here: a member failing is a failover (cluster.test.ts), and after the whole
  // cluster restarts a broker may send what it buffered before the routes between the members
  // are back, which loses it (at most once; see packages/nats/README.md).
  capabilities: { crossProcess: true },
});
