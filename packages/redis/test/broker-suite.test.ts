/**
 * The shared broker suite (test-support/broker-suite.ts) over a standalone redis-server of its
 * own; an outage is that server killed (SIGKILL) and started again on the same port.
 */
import { once } from 'node:events';
import type { Broker } from '@wsup/core';
import { RedisBroker } from '@wsup/redis';
import { brokerSuite } from '../../../test-support/broker-suite.js';
import { RedisServer } from './helpers/redis-server.js';

/** Messages each broker keeps while Redis is down. */
const BOUND = 50;

let redis: RedisServer;

brokerSuite('Redis standalone', {
  setup: async () => {
    redis = await RedisServer.start();
  },
  teardown: async () => {
    await redis?.stop();
  },
  broker: () =>
    new RedisBroker({
      // A fixed short backoff keeps reconnecting after a restart quick.
      connection: { host: '127.0.0.1', port: redis.port, retryStrategy: () => 50 },
      maxBufferedMessages: BOUND,
    }),
  ready: async (broker: Broker) => {
    const redisBroker = broker as RedisBroker;
    if (!redisBroker.connected) await once(redisBroker, 'connected');
  },
  outage: {
    start: () => redis.kill(),
    end: () => redis.restart(),
    bound: BOUND,
  },
  capabilities: { crossProcess: true },
});
