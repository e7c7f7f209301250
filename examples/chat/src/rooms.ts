/**
 * Rooms: who is in which room, the last messages of each, and delivery to everyone in a room.
 *
 * Everything the chat knows across connections lives behind the {@link Rooms} interface, so that
 * moving to core's topics (`ws.subscribe(room)`, `hub.publish(room, data)`) and a Redis broker,
 * with the chat running as several processes, replaces this module and nothing else. That is why
 * the methods return promises although this in-memory version never waits.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from '@wsup/core';
import type { ChatMessage, Joined, Presence } from './protocol.js';

/** One connection in one room, under the name it joined with. */
export interface Member {
  readonly ws: WebSocket;
  readonly name: string;
}

export interface Rooms {
  /**
   * Adds the member, sends it a `joined` message (who is there, the joiner included, and the
   * room's last messages) and tells the others. Sending `joined` here rather than in the caller
   * keeps it ahead of every later message of the room: nothing published after the snapshot is
   * missed, and nothing in it arrives twice.
   */
  join(room: string, member: Member): Promise<Joined>;
  /** Removes the member (if present) and tells the others. */
  leave(room: string, member: Member): Promise<void>;
  /** Posts a message to everyone in the room, the sender included, and keeps it in the history. */
  publish(room: string, member: Member, text: string): Promise<ChatMessage>;
  /** The room's last messages, oldest first. */
  history(room: string): Promise<ChatMessage[]>;
}

export interface RoomsOptions {
  /** Messages kept per room and replayed to joiners. Default 50. */
  historySize?: number;
  /**
   * Rooms whose history is kept once everybody has left; the least recently active go first.
   * Bounds memory against someone creating rooms by the thousand. Default 100.
   */
  maxIdleRooms?: number;
}

/** Rooms in this process's memory. */
export function createRooms(options: RoomsOptions = {}): Rooms {
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

  function deliver(room: string, payload: string, except?: Member): void {
    for (const m of members.get(room) ?? []) {
      // false means closing, closed or a slow reader; core closes readers that fall too far behind.
      if (m !== except) m.ws.send(payload);
    }
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

  function presence(event: 'join' | 'leave', room: string, name: string): Presence {
    return { type: 'presence', event, room, name, members: namesIn(room), ts: Date.now() };
  }

  return {
    async join(room, member) {
      let set = members.get(room);
      if (!set) members.set(room, (set = new Set()));
      set.add(member);
      const joined: Joined = { type: 'joined', room, name: member.name, members: namesIn(room), history: [...touch(room)] };
      member.ws.send(JSON.stringify(joined));
      deliver(room, JSON.stringify(presence('join', room, member.name)), member);
      return joined;
    },

    async leave(room, member) {
      const set = members.get(room);
      if (!set?.delete(member)) return;
      if (set.size === 0) {
        members.delete(room);
        evictIdle();
        return;
      }
      deliver(room, JSON.stringify(presence('leave', room, member.name)));
    },

    async publish(room, member, text) {
      const message: ChatMessage = { type: 'message', id: `${boot}-${++sequence}`, room, name: member.name, text, ts: Date.now() };
      const history = touch(room);
      history.push(message);
      if (history.length > historySize) history.splice(0, history.length - historySize);
      deliver(room, JSON.stringify(message));
      return message;
    },

    async history(room) {
      return [...(histories.get(room) ?? [])];
    },
  };
}
