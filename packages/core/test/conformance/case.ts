/**
 * The case format shared by both conformance suites: the server suite (wsup's upgrade() against
 * a scripted client) and the client suite (wsup's connect() against a scripted server). A case is
 * data: the steps the scripted peer takes and what it must observe. Which side the peer plays,
 * and which configuration of wsup it talks to, is the runner's business, not the case's.
 */
import type { FrameSpec } from './wire.js';
import { closeBody, OP } from './wire.js';

/** What the scripted peer does, in order. */
export type Step =
  /** Send frames: at once, frame by frame (`sync`), or chopped into pieces of `chop` octets. */
  | { do: 'send'; frames: FrameSpec[]; chop?: number; sync?: boolean }
  /** Send raw octets (a frame header alone, half a frame, …). */
  | { do: 'bytes'; bytes: Buffer; chop?: number }
  /**
   * Send part of the octets of `frames` as the peer's role encodes them (masked by a client, with
   * a fixed key so that every part belongs to the same encoding): from `from` octets before the
   * end (Infinity: the start) to `to` octets before it. Counting from the end keeps a cut at the
   * same payload octet whatever the header's length, so a case works in either role.
   */
  | { do: 'send-slice'; frames: FrameSpec[]; from: number; to: number; chop?: number }
  /** Let time pass, to give the other side a chance to do something (right or wrong). */
  | { do: 'pause'; ms: number }
  /** Wait until this many messages/pings/pongs have arrived (bounded: `ms`, default 5 s). */
  | { do: 'await-received'; count: number; ms?: number }
  /** Wait for the other side's close frame (bounded), as fail-fast cases do before sending more. */
  | { do: 'await-close'; ms?: number }
  /** Name this point of the script, for `closeAfter` / `closeBefore`. */
  | { do: 'mark'; name: string }
  /**
   * Send one data message, compressed with the agreed permessage-deflate codec (RSV1 on its
   * first frame) or plain, in frames of at most `fragment` octets of (compressed) payload.
   */
  | { do: 'send-message'; binary: boolean; data: Buffer; compress: boolean; fragment?: number }
  /** From here on, do not answer the implementation's close frame. */
  | { do: 'ignore-close' };

/**
 * An event the scripted peer must observe before the close handshake. For a message on a
 * permessage-deflate connection, `compressed` says whether it must carry RSV1 (undefined: either);
 * `data` is always the inflated payload.
 */
export type Expected = { type: 'message'; binary: boolean; data: Buffer; compressed?: boolean } | { type: 'ping' | 'pong'; data: Buffer };

export interface Expectation {
  /** Exactly these messages, pings and pongs, in this order. */
  received: Expected[];
  /**
   * Who sends the first close frame: 'us' (the script, or the runner once everything expected has
   * arrived, as Autobahn's `closedByMe`) or 'them' (the implementation fails the connection).
   */
  closedBy: 'us' | 'them';
  /** The code in the implementation's close frame; null for a close frame without a payload. */
  closeCode: number | null;
  /** The implementation's close frame must come after this mark (what preceded it was fine). */
  closeAfter?: string;
  /** ... and before this mark (fail fast: it must not wait for the rest of the input). */
  closeBefore?: string;
  /** At least `count` of the received events must have arrived before this mark. */
  receivedBefore?: { mark: string; count: number };
  /**
   * Whether the implementation's close frame fails the connection (default: when it closes first,
   * or answers ours with another code). A client that closes normally must leave ending TCP to
   * the server (RFC 6455 §7.1.1).
   */
  closeIsFailure?: boolean;
  /**
   * Client suite: the scripted server never ends TCP, so the client must, after its closeTimeout.
   */
  holdTcp?: boolean;
  /** Client suite: what `ws.closed` must report (by default derived from the close frames). */
  reported?: Reported;
}

/** How the client reports the end of the connection: `ws.closed`'s fields that are pinned. */
export interface Reported {
  code: number;
  wasClean: boolean;
  /** The `WebSocketError` code; null for none, '*' for any. */
  error: string | null;
  reason?: string;
}

/** A case wsup is known to fail today, kept in the suite as `it.fails` until the bug is fixed. */
export interface KnownFailure {
  /** What wsup does instead, and why (file/function). */
  diagnosis: string;
}

interface CaseBase {
  /** Autobahn's number ("6.4.1"), or "<section>.x.<n>" for wsup's additions. */
  id: string;
  title: string;
  knownFailure?: KnownFailure;
  /** Only run when WSUP_CONFORMANCE=full (too slow for every CI run). */
  long?: boolean;
  /** vitest timeout in milliseconds, for the big section 9 cases. */
  timeout?: number;
}

/** A WebSocket session: open, run the steps, check what came back and how the connection ended. */
export interface SessionCase extends CaseBase {
  kind: 'session';
  /**
   * The client's handshake offers. Server suite: what the scripted client sends. Client suite:
   * what wsup's client must send (`extensions` checked exactly).
   */
  offer?: { extensions?: string; protocols?: string };
  /**
   * The server's Sec-WebSocket-Extensions answer (null: none). Server suite: what wsup must
   * answer. Client suite: what the scripted server answers. When it agrees permessage-deflate,
   * both ends compress and inflate under what it agreed.
   */
  answer?: string | null;
  /** Which configuration of the implementation to talk to; the runner maps names to options. */
  subject?: string;
  steps: Step[];
  expect: Expectation;
}

/** An opening handshake sent as raw octets, and the HTTP answer it must get. */
export interface HandshakeCase extends CaseBase {
  kind: 'handshake';
  /** The request, given the port (for the Host header) and a fresh valid key. */
  request: (port: number, key: string) => string;
  expect: {
    status: number;
    /** Response headers that must be present, with their exact value or a pattern. */
    headers?: Record<string, string | RegExp>;
    /** Whether the server must end the TCP connection after answering (every rejection). */
    closes: boolean;
  };
}

/**
 * Client suite: a 101 whose Sec-WebSocket-Extensions answer the client must refuse. connect()
 * must reject with `error` and the client must close the TCP connection (RFC 6455 §4.1).
 */
export interface RefusedAnswerCase extends CaseBase {
  kind: 'refused-answer';
  subject?: string;
  answer: string;
  expect: { error: string };
}

export type ConformanceCase = SessionCase | HandshakeCase | RefusedAnswerCase;

/** The section a case is counted in: the first component of its id. */
export function sectionOf(c: ConformanceCase): string {
  return c.id.split('.')[0]!;
}

// ---- builders, so that case tables read like Autobahn's descriptions ----

type FrameOpts = Omit<FrameSpec, 'opcode' | 'payload'>;

export const frame = {
  text: (payload: Buffer | string = '', o: FrameOpts = {}): FrameSpec => ({ opcode: OP.text, payload, ...o }),
  binary: (payload: Buffer | string = Buffer.alloc(0), o: FrameOpts = {}): FrameSpec => ({ opcode: OP.binary, payload, ...o }),
  cont: (payload: Buffer | string = '', o: FrameOpts = {}): FrameSpec => ({ opcode: OP.cont, payload, ...o }),
  ping: (payload: Buffer | string = '', o: FrameOpts = {}): FrameSpec => ({ opcode: OP.ping, payload, ...o }),
  pong: (payload: Buffer | string = '', o: FrameOpts = {}): FrameSpec => ({ opcode: OP.pong, payload, ...o }),
  close: (code?: number, reason: string | Buffer = '', o: FrameOpts = {}): FrameSpec => ({
    opcode: OP.close,
    payload: code === undefined ? undefined : closeBody(code, reason),
    ...o,
  }),
  raw: (opcode: number, payload: Buffer | string = '', o: FrameOpts = {}): FrameSpec => ({ opcode, payload, ...o }),
};

export const step = {
  send: (...frames: FrameSpec[]): Step => ({ do: 'send', frames }),
  /** Frame-wise chops: each frame leaves on its own. */
  sendSync: (...frames: FrameSpec[]): Step => ({ do: 'send', frames, sync: true }),
  /** Octets in chops of `chop` (1 = octet-wise), each leaving on its own. */
  sendChopped: (chop: number, ...frames: FrameSpec[]): Step => ({ do: 'send', frames, chop }),
  bytes: (bytes: Buffer, chop?: number): Step => ({ do: 'bytes', bytes, ...(chop === undefined ? {} : { chop }) }),
  /** Octets of `frames` from `from` to `to` octets before their end (see the step's doc). */
  sendSlice: (frames: FrameSpec[], from: number, to: number, chop?: number): Step => ({
    do: 'send-slice',
    frames,
    from,
    to,
    ...(chop === undefined ? {} : { chop }),
  }),
  pause: (ms: number): Step => ({ do: 'pause', ms }),
  awaitReceived: (count: number, ms?: number): Step => ({ do: 'await-received', count, ...(ms === undefined ? {} : { ms }) }),
  awaitClose: (ms?: number): Step => ({ do: 'await-close', ...(ms === undefined ? {} : { ms }) }),
  mark: (name: string): Step => ({ do: 'mark', name }),
  /** A message compressed with the agreed codec; `fragment`: frames of that much payload. */
  sendDeflated: (binary: boolean, data: Buffer | string, fragment?: number): Step => ({
    do: 'send-message',
    binary,
    data: typeof data === 'string' ? Buffer.from(data) : data,
    compress: true,
    ...(fragment === undefined ? {} : { fragment }),
  }),
  ignoreClose: (): Step => ({ do: 'ignore-close' }),
};

const buf = (d: Buffer | string) => (typeof d === 'string' ? Buffer.from(d, 'utf8') : d);

export const got = {
  text: (data: Buffer | string, compressed?: boolean): Expected => ({
    type: 'message',
    binary: false,
    data: buf(data),
    ...(compressed === undefined ? {} : { compressed }),
  }),
  binary: (data: Buffer | string, compressed?: boolean): Expected => ({
    type: 'message',
    binary: true,
    data: buf(data),
    ...(compressed === undefined ? {} : { compressed }),
  }),
  pong: (data: Buffer | string = ''): Expected => ({ type: 'pong', data: buf(data) }),
};

/** We close with 1000 once everything expected has arrived; the implementation echoes 1000. */
export function closesNormally(...received: Expected[]): Expectation {
  return { received, closedBy: 'us', closeCode: 1000 };
}

/** The implementation fails the connection with `code`, after sending `received`. */
export function failsWith(code: number, ...received: Expected[]): Expectation {
  return { received, closedBy: 'them', closeCode: code };
}
