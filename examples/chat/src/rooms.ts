/**
 * Rooms: who is in which room, the last messages of each, and delivery to everyone in a room.
 *
 * Everything the chat shares between connections lives behind the {@link Rooms} interface, one
 * implementation per store: memory-rooms.ts (one process) and redis-rooms.ts (several processes
 * on one Redis). Delivery goes through core's topics either way: a member's connection subscribes
 * to its room's topic, and messages and presence are published on it, framed (and compressed)
 * once for all the room's connections in the process.
 */
import type { WebSocket } from '@wsup/core';
import type { ChatMessage, Joined } from './protocol.js';

/** One connection in one room, under the name it joined with. */
export interface Member {
  readonly ws: WebSocket;
  readonly name: string;
}

export interface Rooms {
  /**
   * Adds the member, sends it a `joined` message (who is there, the joiner included, and the
   * room's last messages), subscribes it to the room and tells the others. Sending `joined` here
   * rather than in the caller keeps it ahead of every later message of the room: nothing
   * published after the snapshot is missed. (With Redis, a message of the snapshot whose live copy
   * was still in flight may follow it once more; pages drop the ids they already show.)
   */
  join(room: string, member: Member): Promise<Joined>;
  /** Unsubscribes and removes the member (if present) and tells the others. */
  leave(room: string, member: Member): Promise<void>;
  /** Posts a message to everyone in the room, the sender included, and keeps it in the history. */
  publish(room: string, member: Member, text: string): Promise<ChatMessage>;
  /** The room's last messages, oldest first. */
  history(room: string): Promise<ChatMessage[]>;
  /** Lets go of the store, once every member has left. */
  close(): Promise<void>;
}

/** The topic of a room in the hub (and, with Redis, the channel's name after the prefix). */
export function roomTopic(room: string): string {
  return `room:${room}`;
}
