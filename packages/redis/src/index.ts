/**
 * A Broker for `@wsup/core` hubs over Redis pub/sub (sharded pub/sub on Redis 7+), so
 * `hub.publish(topic, data)` reaches subscribers in every process and on every machine.
 *
 * @packageDocumentation
 * @module @wsup/redis
 */
export { RedisBroker, type RedisBrokerEvents } from './broker.js';
export { DroppedMessageError } from './errors.js';
export { BrokerDefaults, type ClusterSeed, type RedisBrokerOptions } from './options.js';
export type { PubSubMode } from './capabilities.js';
