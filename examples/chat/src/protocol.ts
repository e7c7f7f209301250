/**
 * The chat protocol: JSON text messages, one object per WebSocket message, told apart by `type`.
 *
 * Browser → server:
 *   { type: 'join', room, name }   enter a room (leaving the current one) under a name
 *   { type: 'say', text }          post to the current room
 *
 * Server → browser:
 *   { type: 'joined', room, name, members, history }   answer to join: who is there, the last messages
 *   { type: 'message', id, room, name, text, ts }      a message posted to the room (the sender's too)
 *   { type: 'presence', event: 'join' | 'leave', room, name, members, ts }   someone else came or went
 *   { type: 'error', code, message }                   a message was refused; the connection stays open
 *
 * This module only parses and checks what browsers send; it never throws on input.
 */

/** Limits on what a browser may send, shared with the page through its HTML (maxlength, pattern). */
export const Limits = {
  /** Longest name, in UTF-16 code units (what the browser's `maxlength` counts). */
  name: 32,
  /** Longest message text, in UTF-16 code units. */
  text: 2000,
  /** Room names: lower-case letters, digits, `-` and `_`, starting with a letter or digit. */
  room: /^[a-z0-9][a-z0-9_-]{0,31}$/,
} as const;

export type ClientMessage = { type: 'join'; room: string; name: string } | { type: 'say'; text: string };

/** Why a message was refused; `code` is stable, `message` is for people. */
export type ErrorCode =
  | 'bad-json'
  | 'bad-message'
  | 'unknown-type'
  | 'bad-name'
  | 'bad-room'
  | 'bad-text'
  | 'text-too-long'
  | 'binary-not-supported'
  | 'not-joined'
  | 'rate-limited';

export interface ProtocolError {
  type: 'error';
  code: ErrorCode;
  message: string;
}

export interface ChatMessage {
  type: 'message';
  /** Unique across restarts, so a reconnecting page can tell the history it already shows. */
  id: string;
  room: string;
  name: string;
  text: string;
  /** Milliseconds since the epoch, server time. */
  ts: number;
}

export interface Presence {
  type: 'presence';
  event: 'join' | 'leave';
  room: string;
  name: string;
  /** Everyone in the room after this change. */
  members: string[];
  ts: number;
}

export interface Joined {
  type: 'joined';
  room: string;
  name: string;
  members: string[];
  /** The room's last messages, oldest first. */
  history: ChatMessage[];
}

export type ServerMessage = Joined | ChatMessage | Presence | ProtocolError;

export function protocolError(code: ErrorCode, message: string): ProtocolError {
  return { type: 'error', code, message };
}

// C0 and C1 controls, and the line/paragraph separators: invisible or layout-breaking in a name.
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// Text may hold newlines and tabs, but no other control characters.
const TEXT_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
// A lone surrogate cannot be sent as UTF-8; it would reach other browsers as U+FFFD.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function checkName(value: unknown): string | ProtocolError {
  if (typeof value !== 'string') return protocolError('bad-name', 'name must be a string');
  const name = value.trim();
  if (name.length === 0) return protocolError('bad-name', 'name must not be empty');
  if (name.length > Limits.name) return protocolError('bad-name', `name must be at most ${Limits.name} characters`);
  if (NAME_FORBIDDEN.test(name) || LONE_SURROGATE.test(name)) {
    return protocolError('bad-name', 'name must not contain control characters');
  }
  return name;
}

export function checkRoom(value: unknown): string | ProtocolError {
  if (typeof value !== 'string') return protocolError('bad-room', 'room must be a string');
  if (!Limits.room.test(value)) {
    return protocolError('bad-room', 'room must be 1–32 lower-case letters, digits, "-" or "_", starting with a letter or digit');
  }
  return value;
}

export function checkText(value: unknown): string | ProtocolError {
  if (typeof value !== 'string') return protocolError('bad-text', 'text must be a string');
  if (value.length > Limits.text) return protocolError('text-too-long', `text must be at most ${Limits.text} characters`);
  const text = value.trim();
  if (text.length === 0) return protocolError('bad-text', 'text must not be empty');
  if (TEXT_FORBIDDEN.test(text) || LONE_SURROGATE.test(text)) {
    return protocolError('bad-text', 'text must not contain control characters');
  }
  return text;
}

/** Parses one text message from a browser into a checked {@link ClientMessage}, or says why not. */
export function parseClientMessage(raw: string): ClientMessage | ProtocolError {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return protocolError('bad-json', 'messages must be JSON');
  }
  if (!isRecord(value)) return protocolError('bad-message', 'messages must be JSON objects');
  switch (value.type) {
    case 'join': {
      const room = checkRoom(value.room);
      if (typeof room !== 'string') return room;
      const name = checkName(value.name);
      if (typeof name !== 'string') return name;
      return { type: 'join', room, name };
    }
    case 'say': {
      const text = checkText(value.text);
      if (typeof text !== 'string') return text;
      return { type: 'say', text };
    }
    default:
      return typeof value.type === 'string'
        ? protocolError('unknown-type', `unknown message type ${JSON.stringify(value.type.slice(0, 32))}`)
        : protocolError('bad-message', 'messages need a string "type"');
  }
}
