/**
 * Where the chat keeps what connections share: in this process's memory (the default), in Redis
 * for several chat processes (`redis` option, `REDIS_URL`), or in memory with messages carried
 * between processes by a broker alone (`broker` option: a Redis Cluster or NATS). Either way the
 * result is a hub for the server's WebSockets and the {@link Rooms} that publish on it; the rest
 * of the chat does not know which.
 */
import { type Broker, Hub } from '@wsup/core';
import { NatsBroker } from '@wsup/nats';
import { RedisBroker } from '@wsup/redis';
import { Redis } from 'ioredis';
import { BrokerTap } from './broker-tap.js';
import { createMemoryRooms, type MemoryRoomsOptions } from './memory-rooms.js';
import { createRedisRooms } from './redis-rooms.js';
import { RedisStore } from './redis-store.js';
import type { Rooms } from './rooms.js';

export interface ChatRedisOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /** Prefix of the chat's keys and pub/sub channels; other apps on the same Redis need another. Default `wsup-chat:`. */
  prefix?: string;
  /**
   * Seconds after which the members of a process that stopped refreshing its presence (it
   * crashed) are removed and announced as gone; processes refresh every third of it. Default 15.
   */
  memberTtl?: number;
  /** Seconds a room's history is kept after its last message or visit. Default 86,400 (a day). */
  historyTtl?: number;
  /** Seconds to wait for Redis at start before giving up. Default 10. */
  connectTimeout?: number;
}

/**
 * A broker that carries the chat's messages between processes, without a shared store: each
 * process keeps the history and member list of its own connections' rooms.
 */
export type ChatBrokerOptions =
  /** Seed nodes of a Redis Cluster (`host:port`), e.g. from `REDIS_CLUSTER=h1:7000,h2:7000`. */
  | { redisCluster: string[]; connectTimeout?: number }
  /** A NATS server or cluster member (`nats://host:port`), e.g. from `NATS_URL`. */
  | { nats: string | string[]; connectTimeout?: number };

export interface StoreOptions extends MemoryRoomsOptions {
  redis?: ChatRedisOptions | undefined;
  broker?: ChatBrokerOptions | undefined;
}

export interface ChatStore {
  readonly hub: Hub;
  readonly rooms: Rooms;
  /** Call once every connection has left its room. */
  close(): Promise<void>;
}

type Log = (message: string, err: unknown) => void;

export async function openStore(options: StoreOptions, log: Log): Promise<ChatStore> {
  if (options.redis) return openRedisStore(options.redis, options.historySize ?? 50, log);
  const hub = options.broker ? await brokerHub(options.broker, log) : new Hub();
  const rooms = createMemoryRooms(options);
  return {
    hub,
    rooms,
    async close() {
      await rooms.close();
      await hub.close();
    },
  };
}

async function openRedisStore(options: ChatRedisOptions, historySize: number, log: Log): Promise<ChatStore> {
  const prefix = options.prefix ?? 'wsup-chat:';
  const memberTtlMs = Math.round((options.memberTtl ?? 15) * 1000);
  const historyTtlMs = Math.round((options.historyTtl ?? 86_400) * 1000);
  if (!(memberTtlMs > 0)) throw new RangeError('redis.memberTtl must be a positive number of seconds');
  if (!(historyTtlMs > 0)) throw new RangeError('redis.historyTtl must be a positive number of seconds');

  // The broker has two connections of its own (publish, subscribe); members and history use a third.
  const redis = new Redis(options.url, { connectionName: 'wsup-chat-data' });
  let started = false;
  let down: unknown;
  redis.on('error', (err: unknown) => {
    // ioredis reconnects by itself; commands meanwhile wait, or fail and are reported where used.
    // Before the start has succeeded, its one clear error says it all.
    if (started && down === undefined) log(`Redis at ${redacted(options.url)} is unreachable; retrying`, err);
    down = err;
  });
  redis.on('ready', () => (down = undefined));

  const broker = new RedisBroker({ connection: options.url, prefix });
  const tap = new BrokerTap(broker, { barrier: () => redis.ping() });
  const hub = new Hub({ broker: tap });
  // Before the start has succeeded, reachable() below reports the failure itself.
  hub.on('error', (err) => {
    if (started) log('Redis pub/sub', err);
  });
  const store = new RedisStore(redis, { prefix, processId: hub.nodeId, historySize, memberTtlMs, historyTtlMs });

  try {
    await reachable(redis, broker, options.url, options.connectTimeout ?? 10, () => down);
    await store.alive();
  } catch (err) {
    redis.disconnect();
    await hub.close();
    throw err;
  }
  started = true;

  const rooms = createRedisRooms({ store, hub, tap, processId: hub.nodeId, refreshMs: memberTtlMs / 3, log });
  return {
    hub,
    rooms,
    async close() {
      await rooms.close().catch((err: unknown) => log('leaving Redis failed', err));
      await hub.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** A hub on a Redis Cluster or NATS broker, once the broker is connected. */
async function brokerHub(options: ChatBrokerOptions, log: Log): Promise<Hub> {
  const broker: RedisBroker | NatsBroker =
    'redisCluster' in options ? new RedisBroker({ cluster: options.redisCluster }) : new NatsBroker({ servers: options.nats });
  const where = 'redisCluster' in options ? `Redis Cluster ${options.redisCluster.join(',')}` : `NATS ${String(options.nats)}`;
  let started = false;
  const hub = new Hub({ broker: broker as Broker });
  hub.on('error', (err) => {
    if (started) log(where, err);
  });
  const seconds = options.connectTimeout ?? 10;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      broker.connected ? Promise.resolve() : new Promise<void>((resolve) => broker.once('connected', () => resolve())),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`cannot reach ${where} within ${seconds} s`)), seconds * 1000);
      }),
    ]);
  } catch (err) {
    await hub.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  started = true;
  return hub;
}

/** Resolves once both the data connection and the broker are up; a clear error after `seconds`. */
async function reachable(redis: Redis, broker: RedisBroker, url: string, seconds: number, lastError: () => unknown): Promise<void> {
  const dataReady = redis.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  const brokerReady = broker.connected ? Promise.resolve() : new Promise<void>((resolve) => broker.once('connected', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const cause = lastError();
      const why = cause instanceof Error ? `: ${cause.message}` : '';
      reject(new Error(`cannot reach Redis at ${redacted(url)} within ${seconds} s${why}`, { cause }));
    }, seconds * 1000);
  });
  try {
    await Promise.race([Promise.all([dataReady, brokerReady]), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The URL without its password, for messages. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the given URL';
  }
}
