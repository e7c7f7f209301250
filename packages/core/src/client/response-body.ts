import { headerValue, type ResponseHead } from './response-head.js';

/**
 * How long the start of a refusal's body is waited for once its status is known. The status
 * already decided the outcome; the excerpt is a courtesy that must not turn a clear refusal into
 * a timeout.
 */
export const BODY_WAIT_MS = 2000;

/** Most bytes of a non-101 response body kept on the error. */
export const BODY_EXCERPT_BYTES = 512;

/**
 * Collects the start of a non-101 response body for the error, undoing chunked transfer coding.
 * Done when the excerpt is full, the body is complete, or (for a body without a length) when the
 * connection ends.
 */
export class BodyExcerpt {
  private readonly remaining: number | undefined;
  private readonly chunked: boolean;
  private raw: Buffer = Buffer.alloc(0);
  private received = 0;

  constructor(head: ResponseHead) {
    const te = headerValue(head, 'transfer-encoding');
    this.chunked = te !== undefined && te.toLowerCase().split(',').at(-1)!.trim() === 'chunked';
    const length = headerValue(head, 'content-length');
    const noBody = head.status === 204 || head.status === 304 || (head.status >= 100 && head.status < 200);
    this.remaining = noBody ? 0 : !this.chunked && length !== undefined && /^[0-9]+$/.test(length) ? Number(length) : undefined;
  }

  /** Adds bytes; returns true once there is nothing more worth waiting for. */
  push(chunk: Buffer): boolean {
    this.received += chunk.length;
    if (this.raw.length < BODY_EXCERPT_BYTES * 2 + 64) this.raw = Buffer.concat([this.raw, chunk]);
    return this.done();
  }

  done(): boolean {
    if (this.remaining !== undefined && this.received >= this.remaining) return true;
    if (this.chunked) {
      const { bytes, complete } = dechunk(this.raw);
      return complete || bytes.length >= BODY_EXCERPT_BYTES;
    }
    return this.raw.length >= BODY_EXCERPT_BYTES;
  }

  /** The excerpt, cut on a character boundary. */
  text(): string {
    let bytes = this.chunked ? dechunk(this.raw).bytes : this.raw;
    if (this.remaining !== undefined) bytes = bytes.subarray(0, this.remaining);
    if (bytes.length > BODY_EXCERPT_BYTES) {
      let end = BODY_EXCERPT_BYTES;
      // Do not split a UTF-8 sequence: back up over continuation bytes to the lead byte.
      while (end > BODY_EXCERPT_BYTES - 4 && (bytes[end]! & 0xc0) === 0x80) end--;
      bytes = bytes.subarray(0, end);
    }
    return bytes.toString('utf8');
  }
}

/** Decodes as much chunked transfer coding as `raw` holds (RFC 7230 §4.1). */
function dechunk(raw: Buffer): { bytes: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\n', pos);
    if (eol === -1) break;
    const size = parseInt(raw.toString('latin1', pos, eol).split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) break;
    if (size === 0) return { bytes: Buffer.concat(parts), complete: true };
    const start = eol + 1;
    parts.push(raw.subarray(start, Math.min(start + size, raw.length)));
    if (start + size > raw.length) break;
    pos = start + size;
    if (raw[pos] === 0x0d) pos++;
    if (raw[pos] === 0x0a) pos++;
  }
  return { bytes: Buffer.concat(parts), complete: false };
}
