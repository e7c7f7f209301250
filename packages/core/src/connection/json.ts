/**
 * JSON messages over a WebSocket: free functions rather than methods, so a connection that never
 * uses them pays nothing for them. They claim no more than they check: `sendJson` sends what
 * `JSON.stringify` makes, `receiveJson` hands over what `JSON.parse` reads, and a value's shape is
 * checked only by the type guard the application gives.
 */
import { ErrorCode, WebSocketError, type WebSocketErrorDetails } from '../errors.js';
import type { Message } from './message.js';
import type { SendOptions } from './outbound.js';
import type { WebSocket } from './websocket.js';

/** A type guard for received JSON values: `(value: unknown) => value is T`. */
export type JsonGuard<T> = (value: unknown) => value is T;

/**
 * A message the JSON helpers could not hand over: not valid JSON (`ERR_JSON_SYNTAX`), binary
 * (`ERR_JSON_BINARY`), or refused by the type guard (`ERR_JSON_REJECTED`). The message has been
 * read from the connection, which stays open: {@link received} holds it, for an application that
 * answers it another way.
 */
export class JsonMessageError extends WebSocketError {
  /** The message as it was received. */
  readonly received: Message;

  constructor(code: ErrorCode, message: string, received: Message, details?: WebSocketErrorDetails) {
    super(code, message, details);
    this.received = received;
  }
}

/**
 * Sends `value` as a JSON text message: `JSON.stringify(value)`, with its rules (`toJSON()` is
 * called, `NaN` and `Infinity` become `null`, object properties that are `undefined` or functions
 * are left out).
 *
 * @param options as for `ws.send()` (`compress`).
 * @returns what `ws.send()` returns: false at the send high-water mark or once closing.
 * @throws {WebSocketError} `ERR_JSON_UNENCODABLE` for a value JSON cannot encode (a BigInt, a
 *   cycle, or `undefined`, a function or a symbol at the top): nothing is sent. Otherwise what
 *   `ws.send()` throws (`ERR_NOT_OPEN`, `ERR_MESSAGE_TOO_BIG`, …).
 */
export function sendJson(ws: WebSocket, value: unknown, options?: SendOptions): boolean {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new WebSocketError(ErrorCode.JsonUnencodable, `cannot send as JSON: ${(err as Error).message}`, { cause: err });
  }
  if (text === undefined) throw new WebSocketError(ErrorCode.JsonUnencodable, `cannot send ${typeof value} as JSON`);
  return ws.send(text, false, options);
}

/**
 * Reads the next message as JSON (`JSON.parse`; RFC 8259). Without a guard it resolves `unknown`:
 * nothing about the value's shape is checked. With a type guard it resolves `T`, or rejects when
 * the guard refuses the value.
 *
 * A message that is not JSON does not close the connection: it is the application's message, not
 * a protocol violation (RFC 6455 has no opinion on payloads). It rejects with a
 * {@link JsonMessageError} holding it, and the next call reads the next message. Binary messages
 * are refused, not decoded: JSON messages are text messages, as {@link sendJson} sends them. In
 * frame mode (`frames: true`) the frames of a message are joined first.
 *
 * @param timeout seconds to wait, as for `ws.receive()` (`ERR_TIMEOUT`; the connection stays open).
 * @returns the value, or `undefined` once the connection is closed and every message received
 *   before has been read (JSON itself has no `undefined`).
 * @throws {JsonMessageError} `ERR_JSON_SYNTAX`, `ERR_JSON_BINARY`, `ERR_JSON_REJECTED`.
 */
export function receiveJson(ws: WebSocket, guard?: undefined, timeout?: number): Promise<unknown>;
export function receiveJson<T>(ws: WebSocket, guard: JsonGuard<T>, timeout?: number): Promise<T | undefined>;
export async function receiveJson<T>(ws: WebSocket, guard?: JsonGuard<T>, timeout?: number): Promise<unknown> {
  const msg = await wholeMessage(ws, timeout);
  return msg === null ? undefined : decode(msg, guard);
}

/**
 * Every message as JSON, until the connection closes: `for await (const value of jsonMessages(ws, isChat))`.
 * Each is read as {@link receiveJson} reads it; a message that is not JSON, or that the guard
 * refuses, ends the loop with its {@link JsonMessageError}. The connection stays open, and a new
 * `jsonMessages(ws)` reads on from the next message.
 */
export function jsonMessages(ws: WebSocket, guard?: undefined): AsyncIterableIterator<unknown>;
export function jsonMessages<T>(ws: WebSocket, guard: JsonGuard<T>): AsyncIterableIterator<T>;
export async function* jsonMessages<T>(ws: WebSocket, guard?: JsonGuard<T>): AsyncGenerator<unknown, void, undefined> {
  for (;;) {
    const msg = await wholeMessage(ws, undefined);
    if (msg === null) return;
    yield decode(msg, guard);
  }
}

function decode<T>(msg: Message, guard: JsonGuard<T> | undefined): unknown {
  if (msg.binary)
    throw new JsonMessageError(ErrorCode.JsonBinary, `a binary message (${msg.data.length} bytes) is not a JSON message`, msg);
  let value: unknown;
  try {
    value = JSON.parse(msg.data);
  } catch (err) {
    throw new JsonMessageError(ErrorCode.JsonSyntax, `the message is not JSON: ${(err as Error).message}`, msg, { cause: err });
  }
  if (guard !== undefined && !guard(value)) {
    throw new JsonMessageError(ErrorCode.JsonRejected, `the JSON message is not what ${guard.name || 'the type guard'} accepts`, msg);
  }
  return value;
}

/** The next whole message; in frame mode, its frames joined. Null once there are no more. */
async function wholeMessage(ws: WebSocket, timeout: number | undefined): Promise<Message | null> {
  const first = await ws.receive(timeout);
  if (first === null || first.fin) return first;
  const parts: (string | Buffer)[] = [first.data];
  for (;;) {
    const next = await ws.receive(timeout);
    if (next === null) return null;
    parts.push(next.data);
    if (next.fin) break;
  }
  return first.binary
    ? { binary: true, fin: true, data: Buffer.concat(parts as Buffer[]) }
    : { binary: false, fin: true, data: (parts as string[]).join('') };
}
