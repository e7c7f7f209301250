/**
 * Rooms in this process's memory: the chat as a single process (no `REDIS_URL`).
 *
 * Every method does its work in one turn of the event loop, so a joiner's `joined` snapshot, its
 * subscription to the room's topic and the presence notice to the others cannot be split by a
 * message published meanwhile. The methods return promises only because the Redis store needs to.
 */
import { randomUUID } from 'node:crypto';
import type { ChatMessage, Joined, Presence } from './protocol.js';
import { roomTopic, type Member, type Rooms } from './rooms.js';

export interface MemoryRoomsOptions {
  /** Messages kept per room and replayed to joiners. Default 50. */
  historySize?: number;
  /**
   * Rooms whose history is kept once everybody has left; the least recently active go first.
   * Bounds memory against someone creating rooms by the thousand. Default 100.
   */
  maxIdleRooms?: number;
}

export function createMemoryRooms(options: MemoryRoomsOptions = {}): Rooms {
  const historySize = options.historySize ?? 50;
  const maxIdleRooms = options.maxIdleRooms ?? 100;
  const members = new Map<string, Set<Member>>();
  // Insertion order is activity order (see touch()), which makes eviction oldest-first.
  const histories = new Map<string, ChatMessage[]>();
  // Message ids must stay unique across restarts: pages keep showing what they had and use the id
  // to recognise history they already display.
  const boot = randomUUID().slice(0, 8);
  let sequence = 0;

  function namesIn(room: string): string[] {
    return [...(members.get(room) ?? [])].map((m) => m.name);
  }

  function touch(room: string): ChatMessage[] {
    const history = histories.get(room) ?? [];
    histories.delete(room);
    histories.set(room, history);
    return history;
  }

  function evictIdle(): void {
    let idle = 0;
    for (const room of histories.keys()) if (!members.has(room)) idle++;
    for (const room of histories.keys()) {
      if (idle <= maxIdleRooms) break;
      if (members.has(room)) continue;
      histories.delete(room);
      idle--;
    }
  }

  function presence(event: 'join' | 'leave', room: string, name: string): string {
    const notice: Presence = { type: 'presence', event, room, name, members: namesIn(room), ts: Date.now() };
    return JSON.stringify(notice);
  }

  return {
    async join(room, member) {
      let set = members.get(room);
      if (!set) members.set(room, (set = new Set()));
      set.add(member);
      const joined: Joined = { type: 'joined', room, name: member.name, members: namesIn(room), history: [...touch(room)] };
      member.ws.send(JSON.stringify(joined));
      member.ws.subscribe(roomTopic(room));
      member.ws.publish(roomTopic(room), presence('join', room, member.name));
      return joined;
    },

    async leave(room, member) {
      const set = members.get(room);
      if (!set?.delete(member)) return;
      member.ws.unsubscribe(roomTopic(room));
      if (set.size === 0) {
        members.delete(room);
        evictIdle();
        return;
      }
      member.ws.hub.publish(roomTopic(room), presence('leave', room, member.name));
    },

    async publish(room, member, text) {
      const message: ChatMessage = { type: 'message', id: `${boot}-${++sequence}`, room, name: member.name, text, ts: Date.now() };
      const history = touch(room);
      history.push(message);
      if (history.length > historySize) history.splice(0, history.length - historySize);
      member.ws.hub.publish(roomTopic(room), JSON.stringify(message));
      return message;
    },

    async history(room) {
      return [...(histories.get(room) ?? [])];
    },

    async close() {
      // Nothing held outside the connections, which leave their topics as they close.
    },
  };
}
