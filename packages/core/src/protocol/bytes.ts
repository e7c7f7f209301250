import { Buffer } from 'node:buffer';
import { typeError } from '../errors.js';

/** A payload of no bytes, shared: a zero-length Buffer cannot be written to. */
export const NO_BYTES: Buffer = Buffer.alloc(0);

/** Data `send()` accepts. Strings go as text unless `binary` is true; bytes go as binary. */
export type SendData = string | Buffer | Uint8Array | ArrayBuffer | ArrayBufferView;

/** The bytes of `data` without copying them, or null for anything that is not bytes (a string, say). */
export function toBuffer(data: unknown): Buffer | null {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/**
 * The payload of `data`: a string as UTF-8, bytes as they are.
 * @throws TypeError `ERR_INVALID_OPTION` for anything else, naming `what` takes it.
 */
export function payloadOf(data: unknown, what: string): Buffer {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
  if (buf === null) throw typeError(`${what} takes a string, Buffer, ArrayBuffer or typed array`);
  return buf;
}
