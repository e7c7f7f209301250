import { rangeError, typeError } from '../errors.js';
import { boolean, integerIn } from '../option-validators.js';

/** Options for `compress`. */
export interface DeflateOptions {
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** zlib level 0–9. Default 1: on chatty JSON it gets nearly level 6's ratio at half the CPU. */
  level?: number;
  /** zlib memLevel 1–9. Default 8. Lower saves up to 128 KiB per compressing connection. */
  memLevel?: number;
  /** The server forgets its compression context after each message (server_no_context_takeover). */
  serverNoContextTakeover?: boolean;
  /** The client forgets its compression context after each message (client_no_context_takeover). */
  clientNoContextTakeover?: boolean;
  /** Largest LZ77 window of the server's compressor, 8–15 (server_max_window_bits). Default 15. */
  serverMaxWindowBits?: number;
  /**
   * Largest LZ77 window of the client's compressor, 8–15 (client_max_window_bits; the server
   * only asks for it when the client offered the parameter). Default 15.
   */
  clientMaxWindowBits?: number;
}

/** {@link DeflateOptions} after defaults and validation. */
export interface ResolvedDeflateOptions {
  threshold: number;
  level: number;
  memLevel: number;
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

const KNOWN_OPTIONS = new Set([
  'threshold',
  'level',
  'memLevel',
  'serverNoContextTakeover',
  'clientNoContextTakeover',
  'serverMaxWindowBits',
  'clientMaxWindowBits',
]);

/** Validates the `compress` option; null when compression is off. */
export function resolveDeflateOptions(value: unknown): ResolvedDeflateOptions | null {
  if (value === undefined || value === false) return null;
  if (value !== true && (typeof value !== 'object' || value === null)) {
    throw typeError('compress must be a boolean or an options object');
  }
  const o = (value === true ? {} : value) as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(key)) throw typeError(`unknown compress option ${key}`);
  }
  const threshold = o.threshold === undefined ? 1024 : o.threshold;
  if (typeof threshold !== 'number' || !(threshold >= 0)) throw rangeError('compress.threshold must be a number of bytes, 0 or more');
  return {
    threshold,
    level: integerIn(o.level, 'compress.level', 0, 9, 1),
    memLevel: integerIn(o.memLevel, 'compress.memLevel', 1, 9, 8),
    serverNoContextTakeover: boolean(o.serverNoContextTakeover, 'compress.serverNoContextTakeover', false),
    clientNoContextTakeover: boolean(o.clientNoContextTakeover, 'compress.clientNoContextTakeover', false),
    serverMaxWindowBits: integerIn(o.serverMaxWindowBits, 'compress.serverMaxWindowBits', 8, 15, 15),
    clientMaxWindowBits: integerIn(o.clientMaxWindowBits, 'compress.clientMaxWindowBits', 8, 15, 15),
  };
}
