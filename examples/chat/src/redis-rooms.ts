/**
 * Rooms in Redis: the chat as several processes sharing one Redis server. Members and history live
 * in Redis (see redis-store.ts); delivery goes through the hub's topics, which the hub's
 * RedisBroker carries to the other processes.
 *
 * Joining, without missing or repeating a message: the process holds the room's topic subscribed
 * first (BrokerTap.hold) and records what arrives on it, then reads members and history in one
 * script, then in a single turn sends `joined`, sends the recorded messages the history lacks, and
 * subscribes the connection. A message published after the snapshot was read either arrived
 * before that turn (recorded, so sent after `joined`) or arrives after it (live). One published
 * before the read is in the history (or older than all of it: see newerThan); if its pub/sub copy
 * is still in flight it arrives live too, and the page drops it by id, as it does after a
 * reconnect.
 *
 * Presence: each process refreshes its key (`process:<id>`) every third of `memberTtl`; the
 * members of a process whose key expired are removed by the next script that reads the room, and
 * the one process whose script removed them announces that they left. Every process sweeps the
 * rooms it has members in at each refresh, so a crashed process's members disappear within
 * `memberTtl` plus a third of it.
 */
import type { Hub, WebSocket } from '@wsup/core';
import type { BrokerTap } from './broker-tap.js';
import type { ChatMessage, Joined, Presence } from './protocol.js';
import type { RedisStore } from './redis-store.js';
import { roomTopic, type Member, type Rooms } from './rooms.js';

export interface RedisRoomsOptions {
  store: RedisStore;
  /** The hub whose broker is `tap`. */
  hub: Hub;
  tap: BrokerTap;
  /** This process's id in the store (message ids start with it, so they stay unique). */
  processId: string;
  /** Milliseconds between refreshes of this process's presence. */
  refreshMs: number;
  log: (message: string, err: unknown) => void;
}

function presence(event: 'join' | 'leave', room: string, name: string, members: string[]): string {
  const notice: Presence = { type: 'presence', event, room, name, members, ts: Date.now() };
  return JSON.stringify(notice);
}

/** The id of a chat message, or undefined for presence (or anything else on the topic). */
function messageId(payload: string): string | undefined {
  try {
    const msg = JSON.parse(payload) as { type?: unknown; id?: unknown };
    return msg.type === 'message' && typeof msg.id === 'string' ? msg.id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a message that arrived while a joiner read `history` was published after that read.
 * Not in the history is not enough: an older message may have been trimmed from it. But each
 * process appends its messages in the order of their ids (`<process>-<n>`), so one whose process
 * has a later message in the history is older than the history, and is not sent after it.
 */
export function newerThan(history: ChatMessage[]): (id: string) => boolean {
  const shown = new Set<string>();
  const latest = new Map<string, number>();
  for (const { id } of history) {
    shown.add(id);
    const [process, n] = splitId(id);
    latest.set(process, Math.max(n, latest.get(process) ?? 0));
  }
  return (id) => {
    if (shown.has(id)) return false;
    const [process, n] = splitId(id);
    return n > (latest.get(process) ?? 0);
  };
}

function splitId(id: string): [process: string, n: number] {
  const dash = id.lastIndexOf('-');
  return [id.slice(0, dash), Number(id.slice(dash + 1))];
}

export function createRedisRooms(options: RedisRoomsOptions): Rooms {
  const { store, hub, tap, processId, log } = options;
  /** This process's members, per room, with their hash fields. */
  const local = new Map<string, Map<Member, string>>();
  /** Joins in progress, per room: what was published on the room while each read its snapshot. */
  const windows = new Map<string, Set<string[]>>();
  let connections = 0;
  let sequence = 0;
  let refreshing = false;

  const timer = setInterval(() => void refresh(), options.refreshMs);
  timer.unref();

  function publish(room: string, payload: string, except?: WebSocket): void {
    // The hub delivers local publishes straight to subscribers, not through the broker (tap).
    for (const recorded of windows.get(room) ?? []) recorded.push(payload);
    hub.publish(roomTopic(room), payload, false, except && { except });
  }

  function announce(room: string, event: 'join' | 'leave', names: string[], members: string[]): void {
    for (const name of names) publish(room, presence(event, room, name, members));
  }

  async function refresh(): Promise<void> {
    if (refreshing) return; // Redis is slow; the next tick tries again
    refreshing = true;
    try {
      await store.alive();
      await Promise.all(
        [...local].map(async ([room, members]) => {
          const after = await store.refresh(
            room,
            [...members].map(([member, field]) => [field, member.name]),
          );
          announce(room, 'join', after.restored, after.members);
          announce(room, 'leave', after.departed, after.members);
        }),
      );
    } catch (err) {
      log('refreshing presence in Redis failed', err);
    } finally {
      refreshing = false;
    }
  }

  return {
    async join(room, member) {
      const topic = roomTopic(room);
      const recorded: string[] = [];
      let open = windows.get(room);
      if (!open) windows.set(room, (open = new Set()));
      open.add(recorded);
      let release: (() => void) | undefined;
      try {
        release = await tap.hold(topic, (payload) => recorded.push(payload.toString('utf8')));
        const field = `${processId}/${++connections}`;
        const snapshot = await store.join(room, field, member.name);
        // From here to the subscription: one turn, so nothing published falls in between.
        let mine = local.get(room);
        if (!mine) local.set(room, (mine = new Map()));
        mine.set(member, field);
        const joined: Joined = { type: 'joined', room, name: member.name, members: snapshot.members, history: snapshot.history };
        member.ws.send(JSON.stringify(joined));
        const isNew = newerThan(snapshot.history);
        for (const payload of recorded) {
          // Presence recorded here is almost always older than the snapshot's members: not resent.
          const id = messageId(payload);
          if (id !== undefined && isNew(id)) member.ws.send(payload);
        }
        member.ws.subscribe(topic);
        publish(room, presence('join', room, member.name, snapshot.members), member.ws);
        announce(room, 'leave', snapshot.departed, snapshot.members);
        return joined;
      } finally {
        open.delete(recorded);
        if (open.size === 0 && windows.get(room) === open) windows.delete(room);
        release?.();
      }
    },

    async leave(room, member) {
      const mine = local.get(room);
      const field = mine?.get(member);
      if (!mine || field === undefined) return;
      mine.delete(member);
      if (mine.size === 0) local.delete(room);
      member.ws.unsubscribe(roomTopic(room));
      const after = await store.leave(room, field);
      if (!after) return; // another process found it departed and said so
      if (after.members.length > 0) publish(room, presence('leave', room, member.name, after.members));
      announce(room, 'leave', after.departed, after.members);
    },

    async publish(room, member, text) {
      const message: ChatMessage = { type: 'message', id: `${processId}-${++sequence}`, room, name: member.name, text, ts: Date.now() };
      // In the history before anyone sees it: a page that reloads finds what it was shown.
      await store.append(room, message);
      publish(room, JSON.stringify(message));
      return message;
    },

    history(room) {
      return store.history(room);
    },

    async close() {
      clearInterval(timer);
      await store.forget();
    },
  };
}
