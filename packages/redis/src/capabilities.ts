import type { Redis } from 'ioredis';

/** How messages travel: `SSUBSCRIBE`/`SPUBLISH` (Redis 7+) or `SUBSCRIBE`/`PUBLISH`. */
export type PubSubMode = 'sharded' | 'classic';

/**
 * Whether the server behind `conn` has sharded pub/sub. Asks `COMMAND INFO SPUBLISH` (an unknown
 * command answers `[null]`); where `COMMAND` is denied or renamed, as on some managed services,
 * the major version in `INFO server` decides (sharded pub/sub came with Redis 7.0). Anything else
 * falls back to classic pub/sub, which every server has.
 *
 * Must run before `conn` enters subscriber mode. Rejects only when the connection itself fails,
 * so that a lost connection is not mistaken for an old server.
 */
export async function detectMode(conn: Redis): Promise<PubSubMode> {
  try {
    const reply = (await conn.call('COMMAND', 'INFO', 'SPUBLISH')) as unknown;
    return Array.isArray(reply) && reply[0] != null ? 'sharded' : 'classic';
  } catch (err) {
    if (conn.status !== 'ready') throw err;
  }
  try {
    const info = await conn.info('server');
    const major = /^redis_version:(\d+)\./m.exec(info)?.[1];
    return major !== undefined && Number(major) >= 7 ? 'sharded' : 'classic';
  } catch (err) {
    if (conn.status !== 'ready') throw err;
    return 'classic';
  }
}
