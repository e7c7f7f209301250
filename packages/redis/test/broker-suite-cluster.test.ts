/**
 * The shared broker suite (test-support/broker-suite.ts) over a Redis Cluster of its own: three
 * masters and three replicas. Its outages (a master failing over, a slot migrating) are in
 * cluster.test.ts, which asserts what only a cluster does; the suite checks the guarantees every
 * broker keeps.
 */
import { once } from 'node:events';
import type { Broker } from '@wsup/core';
import { RedisBroker } from '@wsup/redis';
import { brokerSuite } from '../../../test-support/broker-suite.js';
import { RedisCluster } from './helpers/redis-cluster.js';

let cluster: RedisCluster;

brokerSuite('Redis Cluster', {
  setup: async () => {
    cluster = await RedisCluster.start();
  },
  teardown: async () => {
    await cluster?.stop();
  },
  broker: () => new RedisBroker({ cluster: cluster.seeds, connection: { retryStrategy: () => 100 } }),
  ready: async (broker: Broker) => {
    const redisBroker = broker as RedisBroker;
    if (!redisBroker.connected) await once(redisBroker, 'connected');
  },
  capabilities: { crossProcess: true },
});
