/**
 * A Broker for `@wsup/core` hubs over NATS core pub/sub, so `hub.publish(topic, data)` reaches
 * subscribers in every process and on every machine connected to a NATS server or cluster.
 *
 * @packageDocumentation
 * @module @wsup/nats
 */
export { NatsBroker, type NatsBrokerEvents } from './broker.js';
export { DroppedMessageError } from './errors.js';
export { NatsBrokerDefaults, type NatsBrokerOptions } from './options.js';
