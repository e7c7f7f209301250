/**
 * A protocol-level chat client for the server tests: wsup's own `connect()` over a real socket.
 */
import { connect, type WebSocket } from '@wsup/core';
import type { ChatServer } from '../src/app.js';
import type { Joined, ServerMessage } from '../src/protocol.js';

/** Seconds to wait for a message that should come; only bounds a failing test. */
const WAIT = 5;

export function chatUrl(chat: ChatServer, path = '/chat'): string {
  return `ws://127.0.0.1:${chat.port}${path}`;
}

/** The next message, parsed; fails if the connection closes first or the message is not JSON. */
export async function next(ws: WebSocket): Promise<ServerMessage> {
  const msg = await ws.receive(WAIT);
  if (msg === null) throw new Error(`connection closed (${ws.closeCode} ${ws.closeReason}) while a message was expected`);
  if (msg.binary) throw new Error('expected a JSON text message, got binary');
  return JSON.parse(msg.data) as ServerMessage;
}

/** The next message, which must be of `type`. */
export async function nextOf<T extends ServerMessage['type']>(ws: WebSocket, type: T): Promise<Extract<ServerMessage, { type: T }>> {
  const msg = await next(ws);
  if (msg.type !== type) throw new Error(`expected a "${type}" message, got ${JSON.stringify(msg)}`);
  return msg as Extract<ServerMessage, { type: T }>;
}

export function sendJson(ws: WebSocket, value: unknown): void {
  ws.send(JSON.stringify(value));
}

export interface ChatClient {
  ws: WebSocket;
  joined: Joined;
}

/** Connects and joins `room` as `name`; resolves with the server's `joined` answer. */
export async function joinChat(chat: ChatServer, room: string, name: string): Promise<ChatClient> {
  const ws = await connect(chatUrl(chat));
  sendJson(ws, { type: 'join', room, name });
  return { ws, joined: await nextOf(ws, 'joined') };
}

/** Posts `text` and waits for the server's copy of it, so everything sent before has been handled. */
export async function say(client: ChatClient, text: string): Promise<void> {
  sendJson(client.ws, { type: 'say', text });
  const echo = await nextOf(client.ws, 'message');
  if (echo.text !== text) throw new Error(`expected my own message ${JSON.stringify(text)}, got ${JSON.stringify(echo)}`);
}

/**
 * The next `count` messages of `type` on `ws`, skipping other types (presence notices, when a test
 * is about messages).
 */
export async function collect<T extends ServerMessage['type']>(
  ws: WebSocket,
  type: T,
  count: number,
): Promise<Extract<ServerMessage, { type: T }>[]> {
  const got: Extract<ServerMessage, { type: T }>[] = [];
  while (got.length < count) {
    const msg = await next(ws);
    if (msg.type === type) got.push(msg as Extract<ServerMessage, { type: T }>);
  }
  return got;
}
