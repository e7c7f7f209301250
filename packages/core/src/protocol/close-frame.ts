/** The payload of close frames, and of the other control frames (RFC 6455 §5.5). */
import { ErrorCode, rangeError, typeError, type WebSocketError } from '../errors.js';
import { NO_BYTES, payloadOf } from './bytes.js';
import { CloseCode, MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD } from './constants.js';
import { protocolError } from './protocol-error.js';
import { isValidUtf8 } from './utf8.js';
import { isValidCloseCode } from './validation.js';

/** A close frame's payload: the code then the reason; empty when there is no code (§5.5.1). */
export function encodeClose(code: number | undefined, reason: string): Buffer {
  if (code === undefined) return NO_BYTES;
  const len = Buffer.byteLength(reason);
  const buf = Buffer.allocUnsafe(2 + len);
  buf.writeUInt16BE(code, 0);
  buf.utf8Write(reason, 2, len);
  return buf;
}

/** What a received close frame said. */
export interface ReceivedClose {
  /** 1005 (no status) when the frame had no code. */
  code: number;
  reason: string;
}

/**
 * Reads a received close frame's payload (RFC 6455 §5.5.1, §7.1.5): no payload, or a valid code
 * followed by a UTF-8 reason. Returns the error to fail the connection with otherwise.
 */
export function parseClose(data: Buffer): ReceivedClose | WebSocketError {
  if (data.length === 0) return { code: CloseCode.NoStatus, reason: '' };
  if (data.length === 1) return protocolError(ErrorCode.InvalidClosePayload, 'close frame with a 1-byte payload');
  const code = data.readUInt16BE(0);
  if (!isValidCloseCode(code)) return protocolError(ErrorCode.InvalidCloseCode, `invalid close code ${code}`);
  if (!isValidUtf8(data.subarray(2))) {
    return protocolError(ErrorCode.InvalidUtf8, 'close reason is not valid UTF-8', CloseCode.InvalidPayload);
  }
  return { code, reason: data.utf8Slice(2, data.length) };
}

/** Cuts a reason to the 123 bytes a close frame allows, on a code point boundary. */
export function fitReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON) return reason;
  const buf = Buffer.from(reason).subarray(0, MAX_CLOSE_REASON);
  let end = MAX_CLOSE_REASON;
  while (end > 0 && (buf[end - 1]! & 0xc0) === 0x80) end--;
  if (end > 0 && buf[end - 1]! >= 0xc0) end--;
  return buf.utf8Slice(0, end);
}

/**
 * A ping or pong payload given by the application: a string or bytes of at most 125 bytes.
 * @throws TypeError or RangeError `ERR_INVALID_OPTION`.
 */
export function controlPayload(data: unknown, what: 'ping' | 'pong'): Buffer {
  if (data === undefined) return NO_BYTES;
  const buf = payloadOf(data, what);
  if (buf.length > MAX_CONTROL_PAYLOAD) throw rangeError(`${what} payload must be at most ${MAX_CONTROL_PAYLOAD} bytes, got ${buf.length}`);
  return buf;
}

/**
 * Checks the code and reason an application passes to `close()` (RFC 6455 §7.4: a code it may
 * send; §5.5: the reason fits a control frame after the code).
 * @throws RangeError or TypeError `ERR_INVALID_OPTION`.
 */
export function checkCloseArguments(code: unknown, reason: unknown): void {
  if (typeof code !== 'number' || !isValidCloseCode(code)) throw rangeError(`invalid close code ${String(code)}`);
  if (typeof reason !== 'string') throw typeError('close reason must be a string');
  if (Buffer.byteLength(reason) > MAX_CLOSE_REASON) throw rangeError(`close reason must be at most ${MAX_CLOSE_REASON} bytes`);
}
