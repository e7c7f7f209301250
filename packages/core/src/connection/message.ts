import type { WebSocketError } from '../errors.js';

/** A text message: `data` is the decoded string. */
export interface TextMessage {
  readonly data: string;
  readonly binary: false;
  /** False in frame mode while more frames of this message follow; otherwise true. */
  readonly fin: boolean;
}

/** A binary message: `data` holds the bytes. */
export interface BinaryMessage {
  readonly data: Buffer;
  readonly binary: true;
  /** False in frame mode while more frames of this message follow; otherwise true. */
  readonly fin: boolean;
}

/** What `receive()`, the async iterator and the `message` event yield. */
export type Message = TextMessage | BinaryMessage;

/** How a connection ended. */
export interface CloseInfo {
  /** The peer's close code; 1005 if its close frame had none; 1006 if none arrived. */
  code: number;
  reason: string;
  /** Whether both close frames were exchanged. */
  wasClean: boolean;
  /** Why the connection failed, if it did. */
  error?: WebSocketError;
}

/** A whole received message (its text already validated as UTF-8). */
export function wholeMessage(binary: boolean, data: Buffer): Message {
  return binary ? { data, binary: true, fin: true } : { data: data.utf8Slice(0, data.length), binary: false, fin: true };
}

/** Events a WebSocket emits, for those who prefer listeners to `receive()`. */
export interface WebSocketEvents {
  message: [message: Message];
  ping: [data: Buffer];
  pong: [data: Buffer];
  close: [code: number, reason: string, error: WebSocketError | undefined];
  error: [error: WebSocketError];
  /** `bufferedAmount` fell back below `sendHighWaterMark` after `send()` returned false. */
  drain: [];
  /**
   * A message from the peer was dropped by the `rateLimit` option with `action: 'drop'`: its size
   * in bytes (in frame mode, of its first frame) and whether it was binary. Unlike messages,
   * these are not kept for listeners added later: listen right after `upgrade()` or `connect()`.
   */
  ratelimit: [bytes: number, binary: boolean];
}
