import { rangeError, typeError } from '../errors.js';
import { boolean, integerIn } from '../option-validators.js';

/**
 * Options for `compress`.
 *
 * A server's defaults are made for many connections. The server compresses every message on its
 * own (server_no_context_takeover) with one deflater shared by the whole process: no zlib state
 * per connection, and a broadcast is compressed once for all its subscribers. It does so at level 3,
 * which keeps the ratio within 10% of a per-connection context at level 1 (the former default): on
 * the benchmark's 4 KiB JSON texts, 0.257 wire bytes per payload byte against 0.234, +9.7% (level
 * 4: 0.249, +6.5%, for 15–20% more CPU per message, which put the compressed echo under 3× ws). What
 * it keeps per connection is the client's compression context, in 13 window bits (an 8 KiB window
 * instead of 32 KiB; the client's messages 0.185 against 0.178, +4%). 10,000 connections that
 * offer what Chromium and ws offer, each having sent and received compressed messages, hold
 * about 380 MB of server RSS instead of 2.9 GB (`pnpm --dir bench deflate-memory`, `deflate-ratio`).
 *
 * A client's defaults are unchanged: context takeover both ways, level 1, 15-bit windows. Every
 * default can be overridden; the former server defaults are
 * `{ level: 1, serverNoContextTakeover: false, clientNoContextTakeover: false, clientMaxWindowBits: 15 }`.
 */
export interface DeflateOptions {
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /**
   * zlib level 0–9. Default 1 wherever the compressor keeps its context (a client, and a server
   * with `serverNoContextTakeover: false`): with the messages before it in its window, level 1
   * gets nearly level 6's ratio at half the CPU. Default 3 where a server compresses each message
   * on its own (its default, or because the client asked): there level 1 loses 15% of the ratio on
   * chatty JSON, level 3 10%, for about 1.3× the CPU per message of level 1 with context;
   * messages of 64 KiB or more are still compressed at level 1 (compression is synchronous, and
   * a large message would hold the event loop longer at level 3). Set, it applies
   * to every message.
   */
  level?: number;
  /**
   * zlib memLevel 1–9. Default 8. Lower saves up to 128 KiB per connection whose compressor keeps
   * its context; a shared compressor (the server's default) costs nothing per connection anyway.
   */
  memLevel?: number;
  /**
   * The server forgets its compression context after each message (server_no_context_takeover).
   * Default: `true` on a server (every message is compressed on its own by one deflater shared by
   * all connections: no zlib state per connection, and a broadcast is compressed once); `false`
   * on a client (it asks nothing of the server).
   */
  serverNoContextTakeover?: boolean;
  /**
   * The client forgets its compression context after each message (client_no_context_takeover:
   * the server then inflates with a pooled inflater instead of keeping one per connection).
   * `true` or `false` is answered or offered as set. Unset on a server: asked for only when the
   * server wants a client window smaller than 15 bits (`clientMaxWindowBits`, default 13) but the
   * client did not offer client_max_window_bits, so that memory stays bounded for such clients
   * too; unset on a client: `false`.
   */
  clientNoContextTakeover?: boolean;
  /** Largest LZ77 window of the server's compressor, 8–15 (server_max_window_bits). Default 15. */
  serverMaxWindowBits?: number;
  /**
   * Largest LZ77 window of the client's compressor, 8–15 (client_max_window_bits; the server only
   * asks for it when the client offered the parameter). Default 13 on a server: the window of the
   * context it keeps for each client, 8 KiB instead of 32 KiB, for 4% of ratio on the client's
   * messages. Default 15 on a client.
   */
  clientMaxWindowBits?: number;
}

/**
 * {@link DeflateOptions} after validation. The options whose default differs between server and
 * client are `undefined` when not set; {@link serverDefaults} and {@link clientDefaults} fill them.
 */
export interface ResolvedDeflateOptions {
  threshold: number;
  level: number | undefined;
  memLevel: number;
  serverNoContextTakeover: boolean | undefined;
  clientNoContextTakeover: boolean | undefined;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number | undefined;
}

/** What a server uses: every option set, except clientNoContextTakeover (unset: see {@link DeflateOptions}). */
export interface ServerDeflateOptions {
  level: number;
  memLevel: number;
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean | undefined;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** What a client uses. */
export interface ClientDeflateOptions {
  level: number;
  memLevel: number;
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** Server defaults (see {@link DeflateOptions}). */
export const SERVER_DEFAULT_CLIENT_WINDOW_BITS = 13;
export const SHARED_DEFLATER_LEVEL = 3;
export const CONTEXT_LEVEL = 1;
/** Messages this large are compressed at {@link CONTEXT_LEVEL} unless `level` is set. */
export const LARGE_MESSAGE = 64 * 1024;

export function serverDefaults(o: ResolvedDeflateOptions): ServerDeflateOptions {
  const serverNoContextTakeover = o.serverNoContextTakeover ?? true;
  return {
    level: o.level ?? (serverNoContextTakeover ? SHARED_DEFLATER_LEVEL : CONTEXT_LEVEL),
    memLevel: o.memLevel,
    serverNoContextTakeover,
    clientNoContextTakeover: o.clientNoContextTakeover,
    serverMaxWindowBits: o.serverMaxWindowBits,
    clientMaxWindowBits: o.clientMaxWindowBits ?? SERVER_DEFAULT_CLIENT_WINDOW_BITS,
  };
}

export function clientDefaults(o: ResolvedDeflateOptions): ClientDeflateOptions {
  return {
    level: o.level ?? CONTEXT_LEVEL,
    memLevel: o.memLevel,
    serverNoContextTakeover: o.serverNoContextTakeover ?? false,
    clientNoContextTakeover: o.clientNoContextTakeover ?? false,
    serverMaxWindowBits: o.serverMaxWindowBits,
    clientMaxWindowBits: o.clientMaxWindowBits ?? 15,
  };
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

function optional<T>(value: unknown, check: (v: unknown) => T): T | undefined {
  return value === undefined ? undefined : check(value);
}

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
    level: optional(o.level, (v) => integerIn(v, 'compress.level', 0, 9, 0)),
    memLevel: integerIn(o.memLevel, 'compress.memLevel', 1, 9, 8),
    serverNoContextTakeover: optional(o.serverNoContextTakeover, (v) => boolean(v, 'compress.serverNoContextTakeover', false)),
    clientNoContextTakeover: optional(o.clientNoContextTakeover, (v) => boolean(v, 'compress.clientNoContextTakeover', false)),
    serverMaxWindowBits: integerIn(o.serverMaxWindowBits, 'compress.serverMaxWindowBits', 8, 15, 15),
    clientMaxWindowBits: optional(o.clientMaxWindowBits, (v) => integerIn(v, 'compress.clientMaxWindowBits', 8, 15, 15)),
  };
}
