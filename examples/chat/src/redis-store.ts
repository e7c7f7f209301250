/**
 * What the chat keeps in Redis, and the commands that read and change it. Each change that has to
 * be seen whole by other processes is one Lua script, so it is atomic.
 *
 * Keys, under the prefix (default `wsup-chat:`):
 *   process:<id>          "1" while process <id> is alive: set with a TTL (`memberTtl`) that the
 *                         process refreshes every third of it (see redis-rooms.ts).
 *   room:<room>:members   hash: field `<process id>/<connection number>`, value `<order>:<name>`;
 *                         field `#` counts joins, giving `members` their join order. Expires
 *                         `memberTtl` after the last refresh by a live process with members there.
 *   room:<room>:history   list of the last `historySize` messages (JSON, oldest first), capped by
 *                         LTRIM; expires `historyTtl` after the last message, join or refresh.
 *
 * A member whose process key has expired (the process crashed, or stalled longer than the TTL)
 * is removed by the next script that reads the room, and only that script's caller gets its name
 * back (`departed`), so exactly one process announces that it left.
 *
 * The scripts touch process keys they are not given in KEYS: fine on a standalone Redis (the
 * only kind @wsup/redis supports too), not on Redis Cluster.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ChatMessage } from './protocol.js';

export interface RedisStoreOptions {
  /** Key prefix; processes of one chat share it, other apps on the same Redis must not. */
  prefix: string;
  /** This process's id, unique among the processes on this Redis (and across their restarts). */
  processId: string;
  historySize: number;
  memberTtlMs: number;
  historyTtlMs: number;
}

/** Who is in a room after a change. */
export interface RoomMembers {
  /** Names, in join order. */
  members: string[];
  /** Members of dead processes removed by this call: this caller announces them. */
  departed: string[];
}

/** A Lua script run by its SHA1, sent in full only when Redis does not have it (after a restart). */
class Script {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

// Reads a room's members hash, removing (and returning) those whose process key is gone.
const MEMBERS = `
local function members(key, processPrefix)
  local flat = redis.call('HGETALL', key)
  local alive, live, departed = {}, {}, {}
  for i = 1, #flat, 2 do
    local field, value = flat[i], flat[i + 1]
    if field ~= '#' then
      local process = string.match(field, '^([^/]+)/')
      if alive[process] == nil then alive[process] = redis.call('EXISTS', processPrefix .. process) == 1 end
      local order, name = string.match(value, '^(%d+):(.*)$')
      if alive[process] then
        live[#live + 1] = { tonumber(order), name }
      else
        redis.call('HDEL', key, field)
        departed[#departed + 1] = name
      end
    end
  end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  local names = {}
  for i, m in ipairs(live) do names[i] = m[2] end
  if #names == 0 then redis.call('DEL', key) end
  return names, departed
end
`;

// KEYS: members, history, own process key. ARGV: field, name, memberTtlMs, historyTtlMs, process key prefix.
const JOIN = new Script(`${MEMBERS}
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
local order = redis.call('HINCRBY', KEYS[1], '#', 1)
redis.call('HSET', KEYS[1], ARGV[1], order .. ':' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local names, departed = members(KEYS[1], ARGV[5])
return { names, departed, redis.call('LRANGE', KEYS[2], 0, -1) }
`);

// KEYS: members. ARGV: field, process key prefix. Nil when the member was not there (already removed).
const LEAVE = new Script(`${MEMBERS}
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return false end
local names, departed = members(KEYS[1], ARGV[2])
return { names, departed }
`);

// KEYS: history. ARGV: message JSON, historySize, historyTtlMs.
const APPEND = new Script(`
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
`);

// KEYS: members, history, own process key. ARGV: memberTtlMs, historyTtlMs, process key prefix,
// then field and name of each of this process's members in the room. Puts back those that were
// removed while this process looked dead (it stalled past the TTL), and returns their names.
const REFRESH = new Script(`${MEMBERS}
redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
local restored = {}
for i = 4, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then
    local order = redis.call('HINCRBY', KEYS[1], '#', 1)
    redis.call('HSET', KEYS[1], ARGV[i], order .. ':' .. ARGV[i + 1])
    restored[#restored + 1] = ARGV[i + 1]
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local names, departed = members(KEYS[1], ARGV[3])
return { names, departed, restored }
`);

export class RedisStore {
  private readonly processKey: string;
  private readonly processPrefix: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisStoreOptions,
  ) {
    this.processPrefix = `${options.prefix}process:`;
    this.processKey = this.processPrefix + options.processId;
  }

  /** Adds a member; returns who is there now (the joiner last) and the room's history. */
  async join(room: string, field: string, name: string): Promise<RoomMembers & { history: ChatMessage[] }> {
    const { memberTtlMs, historyTtlMs } = this.options;
    const reply = (await JOIN.run(
      this.redis,
      [this.membersKey(room), this.historyKey(room), this.processKey],
      [field, name, memberTtlMs, historyTtlMs, this.processPrefix],
    )) as [string[], string[], string[]];
    return { members: reply[0], departed: reply[1], history: parseHistory(reply[2]) };
  }

  /** Removes a member; undefined when it was not there (another process found it departed). */
  async leave(room: string, field: string): Promise<RoomMembers | undefined> {
    const reply = (await LEAVE.run(this.redis, [this.membersKey(room)], [field, this.processPrefix])) as [string[], string[]] | null;
    return reply ? { members: reply[0], departed: reply[1] } : undefined;
  }

  async append(room: string, message: ChatMessage): Promise<void> {
    await APPEND.run(this.redis, [this.historyKey(room)], [JSON.stringify(message), this.options.historySize, this.options.historyTtlMs]);
  }

  async history(room: string): Promise<ChatMessage[]> {
    return parseHistory(await this.redis.lrange(this.historyKey(room), 0, -1));
  }

  /** Keeps this process alive in Redis; with nothing in any room that is all a refresh does. */
  async alive(): Promise<void> {
    await this.redis.set(this.processKey, '1', 'PX', this.options.memberTtlMs);
  }

  /**
   * Keeps this process and its members of `room` alive, and the room's history; returns who is
   * there, who departed with a dead process, and which of `mine` had to be put back.
   */
  async refresh(room: string, mine: [field: string, name: string][]): Promise<RoomMembers & { restored: string[] }> {
    const { memberTtlMs, historyTtlMs } = this.options;
    const reply = (await REFRESH.run(
      this.redis,
      [this.membersKey(room), this.historyKey(room), this.processKey],
      [memberTtlMs, historyTtlMs, this.processPrefix, ...mine.flat()],
    )) as [string[], string[], string[]];
    return { members: reply[0], departed: reply[1], restored: reply[2] };
  }

  /** This process is going away: its members (if any are left) can be removed at once. */
  async forget(): Promise<void> {
    await this.redis.del(this.processKey);
  }

  private membersKey(room: string): string {
    return `${this.options.prefix}room:${room}:members`;
  }

  private historyKey(room: string): string {
    return `${this.options.prefix}room:${room}:history`;
  }
}

function parseHistory(entries: string[]): ChatMessage[] {
  const history: ChatMessage[] = [];
  for (const entry of entries) {
    try {
      history.push(JSON.parse(entry) as ChatMessage);
    } catch {
      // Not written by the chat; a page must not get it.
    }
  }
  return history;
}
