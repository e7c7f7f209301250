import zlib from 'node:zlib';
import { warn, WarningCode } from '../diagnostics.js';

/**
 * Synchronous, persistent raw-deflate contexts.
 *
 * Node's public zlib API offers either one-shot synchronous calls (`deflateRawSync`, which cannot
 * keep a context between messages, so no context takeover) or streams that work through the
 * thread pool (a round trip per message: the reason `ws` echoes ~17× fewer compressed messages).
 * The streams are built on a native handle whose `writeSync` does exactly what permessage-deflate
 * needs: run zlib over a slice of input into a slice of output, synchronously, keeping the
 * context. This module is the one place that touches that handle; if a future Node changes it,
 * `syncZlibAvailable` turns false and wsup stops negotiating compression, saying so
 * (`WSUP_COMPRESSION_UNAVAILABLE`) each time it declines.
 */

interface NativeHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
  onerror: (message: string, errno: number) => void;
}

interface StreamInternals {
  _handle: NativeHandle | null;
  _writeState: Uint32Array;
}

const Z_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;

function internals(stream: zlib.DeflateRaw | zlib.InflateRaw): StreamInternals | null {
  const s = stream as unknown as Partial<StreamInternals>;
  if (!s._handle || typeof s._handle.writeSync !== 'function' || typeof s._handle.reset !== 'function') return null;
  if (!(s._writeState instanceof Uint32Array) || s._writeState.length < 2) return null;
  return s as StreamInternals;
}

/** Result of one {@link SyncZlib.write}. */
export interface WriteResult {
  /** Input bytes consumed. */
  consumed: number;
  /** Output bytes produced. */
  written: number;
  /** Output space was exhausted (more output may be pending). */
  full: boolean;
}

/** A raw deflate or inflate context used synchronously with Z_SYNC_FLUSH. */
export class SyncZlib {
  private stream: zlib.DeflateRaw | zlib.InflateRaw | null;
  private readonly handle: NativeHandle;
  private readonly state: Uint32Array;
  private error: string | null = null;

  constructor(stream: zlib.DeflateRaw | zlib.InflateRaw) {
    const s = internals(stream);
    if (!s) throw new Error('zlib internals unavailable');
    this.stream = stream;
    this.handle = s._handle!;
    this.state = s._writeState;
    // Replace the stream's error handler: errors (corrupt input) are reported to the caller
    // synchronously instead of destroying the stream asynchronously.
    this.handle.onerror = (message: string) => {
      this.error = message;
    };
  }

  /**
   * Runs zlib over `input[inOff..]` into `out[outOff, outOff + outLen)`. Stops when the input is
   * consumed (and everything flushed) or the output space is full.
   * @throws Error with zlib's message on corrupt data (the context is unusable afterwards).
   */
  write(input: Uint8Array, inOff: number, out: Uint8Array, outOff: number, outLen: number): WriteResult {
    const inLen = input.length - inOff;
    this.handle.writeSync(Z_SYNC_FLUSH, input, inOff, inLen, out, outOff, outLen);
    if (this.error !== null) throw new Error(this.error);
    const availOut = this.state[0]!;
    const availIn = this.state[1]!;
    return { consumed: inLen - availIn, written: outLen - availOut, full: availOut === 0 };
  }

  /** Forgets the context (no context takeover), keeping the allocated memory for reuse. */
  reset(): void {
    this.handle.reset();
  }

  /** Frees the native memory. */
  close(): void {
    if (this.stream) {
      this.stream.close();
      this.stream = null;
    }
  }
}

/** Whether this Node exposes what synchronous contexts need (checked once, by really using it). */
export const syncZlibAvailable: boolean = (() => {
  try {
    const d = new SyncZlib(zlib.createDeflateRaw({ level: 1 }));
    const out = Buffer.allocUnsafe(64);
    const n = d.write(Buffer.from('hello hello hello'), 0, out, 0, out.length);
    d.close();
    const i = new SyncZlib(zlib.createInflateRaw());
    const back = Buffer.allocUnsafe(64);
    const m = i.write(out.subarray(0, n.written), 0, back, 0, back.length);
    i.close();
    return back.subarray(0, m.written).toString() === 'hello hello hello';
  } catch {
    return false;
  }
})();

/**
 * Whether permessage-deflate can be agreed. When it cannot, the connection that wanted it opens
 * without, and that is reported ({@link compressionUnavailable}): otherwise an application would
 * only notice in its bandwidth bill.
 */
export function canCompress(): boolean {
  if (syncZlibAvailable) return true;
  compressionUnavailable();
  return false;
}

/**
 * Reports that a connection opens without the compression it asked for, as this Node lacks the
 * synchronous zlib contexts: a `wsup:warning` message each time, a process warning the first time.
 */
export function compressionUnavailable(): void {
  warn(
    WarningCode.CompressionUnavailable,
    `permessage-deflate is off: this Node (${process.version}) does not expose the synchronous zlib contexts wsup compresses with, so WebSockets open without compression`,
  );
}
