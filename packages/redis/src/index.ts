export { RedisBroker, type RedisBrokerEvents } from './broker.js';
export { DroppedMessageError } from './errors.js';
export { BrokerDefaults, type RedisBrokerOptions } from './options.js';
export type { PubSubMode } from './capabilities.js';
