import { BrokerBufferDefaults, ErrorCode, resolveBrokerBuffer } from '@wsup/core';
import type { Redis, RedisOptions } from 'ioredis';
import type { NodeAddress } from './cluster/topology.js';

/** Options for {@link RedisBroker}. */
export interface RedisBrokerOptions {
  /**
   * Where Redis is: a `redis://` / `rediss://` URL or ioredis options (host, port, password, tls,
   * retryStrategy…). Default: ioredis's default, `127.0.0.1:6379`. Ignored when `client` is given.
   */
  connection?: string | RedisOptions;
  /**
   * An ioredis client whose options the broker copies (`client.duplicate()`) for its two
   * connections, one for publishing and one in subscriber mode. The client itself is neither
   * used nor closed.
   */
  client?: Redis;
  /** Prepended to every topic to make its channel name. Default `'wsup:'`. */
  prefix?: string;
  /**
   * Most messages published while Redis is unreachable that are kept to be sent once it is
   * back. Default 1,000.
   */
  maxBufferedMessages?: number;
  /**
   * Most bytes (payloads plus a header of about 20 bytes each) kept while Redis is unreachable.
   * Default 8 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * Seconds to wait, after reconnecting, for the other nodes to subscribe again before sending
   * the buffered messages: the broker waits until each of their channels has as many subscribed
   * nodes as the last publish before the outage reached, or this long. Default 5 (ioredis's
   * default reconnect backoff tops out at 5 s). 0 sends at once.
   */
  recoveryTimeout?: number;
  /**
   * `'auto'` uses sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`) when the server has it (Redis 7+),
   * classic pub/sub otherwise; `true`/`false` force either. All nodes must end up using the
   * same. Default `'auto'`.
   */
  sharded?: 'auto' | boolean;
  /**
   * A Redis Cluster to use instead of a standalone server: some of its nodes (seeds), as
   * `'host:port'` strings or `{ host, port }`. The broker reads the slot map from the first seed
   * that answers (`CLUSTER SLOTS`) and finds the other nodes from it. Pub/sub is sharded
   * (`SSUBSCRIBE`/`SPUBLISH`, Redis 7+): each topic's channel lives on the shard of its hash
   * slot, so `sharded` must not be `false`.
   *
   * Options for the connections to each node (password, username, tls, `retryStrategy`…) come
   * from `connection`, which must then be an options object (its host and port are ignored);
   * `client` cannot be combined with `cluster`.
   *
   * ```ts
   * new RedisBroker({ cluster: ['10.0.0.1:7000', '10.0.0.2:7000'], connection: { password } })
   * ```
   */
  cluster?: readonly ClusterSeed[];
}

/** A Redis Cluster node to start from: `'host:port'` or `{ host, port }`. */
export type ClusterSeed = string | { host: string; port: number };

/** Options after defaults and validation. */
export interface ResolvedBrokerOptions {
  connection: string | RedisOptions | undefined;
  client: Redis | undefined;
  prefix: string;
  maxBufferedMessages: number;
  maxBufferedBytes: number;
  recoveryTimeoutMs: number;
  sharded: 'auto' | boolean;
  /** The cluster's seed nodes; undefined for a standalone server. */
  cluster: NodeAddress[] | undefined;
}

/** The defaults of {@link RedisBrokerOptions} (`recoveryTimeout` in seconds). */
export const BrokerDefaults = {
  prefix: 'wsup:',
  ...BrokerBufferDefaults,
} as const;

function optionError(message: string): RangeError & { code: ErrorCode } {
  const err = new RangeError(message) as RangeError & { code: ErrorCode };
  err.code = ErrorCode.InvalidOption;
  return err;
}

export function resolveBrokerOptions(options: RedisBrokerOptions | undefined): ResolvedBrokerOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw optionError('RedisBroker options must be an object');
  const o = options ?? {};
  const prefix = o.prefix ?? BrokerDefaults.prefix;
  if (typeof prefix !== 'string') throw optionError('prefix must be a string');
  const buffer = resolveBrokerBuffer(o);
  const sharded = o.sharded ?? 'auto';
  if (sharded !== 'auto' && typeof sharded !== 'boolean') throw optionError(`sharded must be 'auto', true or false`);
  if (o.client !== undefined && (typeof o.client !== 'object' || o.client === null || typeof o.client.duplicate !== 'function')) {
    throw optionError('client must be an ioredis Redis instance');
  }
  if (o.connection !== undefined && typeof o.connection !== 'string' && (typeof o.connection !== 'object' || o.connection === null)) {
    throw optionError('connection must be a redis:// URL or ioredis options');
  }
  const cluster = o.cluster === undefined ? undefined : seeds(o.cluster);
  if (cluster) {
    if (sharded === false) throw optionError('a Redis Cluster needs sharded pub/sub: sharded cannot be false with cluster');
    if (o.client !== undefined) throw optionError('client cannot be combined with cluster: give node options as connection');
    if (typeof o.connection === 'string') throw optionError('with cluster, connection must be ioredis options, not a URL');
  }
  return {
    cluster,
    connection: o.connection,
    client: o.client,
    prefix,
    ...buffer,
    sharded,
  };
}

function seeds(value: unknown): NodeAddress[] {
  if (!Array.isArray(value) || value.length === 0) throw optionError('cluster must be a non-empty list of seed nodes');
  return value.map((seed: unknown) => {
    const address =
      typeof seed === 'string'
        ? (() => {
            const at = seed.lastIndexOf(':');
            return { host: seed.slice(0, at), port: Number(seed.slice(at + 1)) };
          })()
        : seed !== null && typeof seed === 'object'
          ? { host: (seed as { host?: unknown }).host, port: (seed as { port?: unknown }).port }
          : undefined;
    if (
      !address ||
      typeof address.host !== 'string' ||
      address.host === '' ||
      typeof address.port !== 'number' ||
      !Number.isInteger(address.port) ||
      address.port < 1 ||
      address.port > 65535
    ) {
      throw optionError(`a cluster seed must be 'host:port' or { host, port }, got ${JSON.stringify(seed)}`);
    }
    return { host: address.host, port: address.port };
  });
}
