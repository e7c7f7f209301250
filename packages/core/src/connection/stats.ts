/**
 * Counters a server reads at any time, without subscribing to anything: the process's
 * (`webSocketStats()`) and each router's (`router.stats()`).
 *
 * The paths that carry messages pay one addition per figure: each connection counts its own
 * messages and bytes in its `Inbound` and `Outbound` (and, with permessage-deflate, what
 * compression saved in its codec). A closing connection's figures are added to the totals of the
 * process and of its router; a snapshot adds those of the connections still open, which the
 * memory budget and the router already keep sets of. Reading is O(open connections), writing O(1).
 */
import { ErrorCode } from '../errors.js';
import { budgetMembers, type BudgetMember } from './memory-budget.js';

/**
 * What the counters report: WebSockets of both sides (server and client) for the process, those
 * of one router's server for {@link UpgradeRouter.stats}.
 *
 * Bytes are payload bytes of data messages, frame headers and control frames not included.
 */
export interface WebSocketStats {
  /** WebSockets open now. */
  open: number;
  /** WebSockets opened since the process (or the router) started. */
  opened: number;
  /** WebSockets closed since then. */
  closed: number;
  /** Closed WebSockets by close code (the code `close` reported): `{ 1000: 5, 1006: 2, 1009: 1 }`. */
  closedByCode: Record<number, number>;
  /** Opening handshakes the server refused (400, 403, 405, 426, 500, 503). */
  refused: number;
  /** Refused handshakes by HTTP status: `{ 403: 1, 426: 3, 503: 2 }`. */
  refusedByStatus: Record<number, number>;
  /**
   * Whole data messages received (in frame mode: messages whose last frame arrived), including
   * those the `rateLimit` option then dropped.
   */
  messagesIn: number;
  /**
   * Whole data messages queued to send: by `send()` and friends, and one per subscriber a
   * published message was queued for.
   */
  messagesOut: number;
  /** Payload bytes of the received messages as they were on the wire (compressed, when they were). */
  bytesIn: number;
  /** Payload bytes of the sent messages as they go on the wire (compressed, when they are). */
  bytesOut: number;
  /** Payload bytes of the received messages uncompressed: `uncompressedBytesIn - bytesIn` is what compression saved. */
  uncompressedBytesIn: number;
  /** Payload bytes of the sent messages uncompressed: `uncompressedBytesOut - bytesOut` is what compression saved. */
  uncompressedBytesOut: number;
  /**
   * Bytes the open WebSockets hold now: queued to send, received and not read yet (64 more for
   * each unread message), and of messages still arriving (what the memory budget counts).
   */
  bufferedBytes: number;
  /** WebSockets wsup closed for each of its limits (each is also counted under its close code). */
  terminated: {
    /** The peer did not read: a send went past `maxBuffered` (`ERR_BUFFER_OVERFLOW`, 1008). */
    slowReader: number;
    /** The peer did not answer the heartbeat's ping (`ERR_HEARTBEAT_TIMEOUT`, 1006). */
    heartbeat: number;
    /** No data message either way for `idleTimeout` (1001). */
    idle: number;
    /** The process was over its memory budget and the connection held the most (`ERR_MEMORY_BUDGET`, 1013). */
    memoryBudget: number;
    /** The peer sent more than `rateLimit` allows (`ERR_RATE_LIMITED`, 1008). */
    rateLimit: number;
  };
}

/** A connection's figures, in the fields its objects keep them in. */
export interface Counted extends BudgetMember {
  /** Messages received, and their bytes after decompression. */
  readonly inbound: { readonly received: number; readonly receivedBytes: number };
  /** Messages queued to send, and their bytes on the wire; the codec, when compression was agreed. */
  readonly outbound: {
    readonly sent: number;
    readonly sentBytes: number;
    readonly deflate: { readonly savedIn: number; readonly savedOut: number } | undefined;
  };
}

/** The figures of messages in and out, as {@link WebSocketStats} names them. */
export type Traffic = Pick<
  WebSocketStats,
  'messagesIn' | 'messagesOut' | 'bytesIn' | 'bytesOut' | 'uncompressedBytesIn' | 'uncompressedBytesOut'
>;

/** Traffic with every figure 0. */
export function noTraffic(): Traffic {
  return { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, uncompressedBytesIn: 0, uncompressedBytesOut: 0 };
}

/** Adds a connection's figures to `t`. */
export function addTraffic(t: Traffic, c: Counted): void {
  const i = c.inbound;
  const o = c.outbound;
  const saved = o.deflate;
  t.messagesIn += i.received;
  t.uncompressedBytesIn += i.receivedBytes;
  t.bytesIn += saved === undefined ? i.receivedBytes : i.receivedBytes - saved.savedIn;
  t.messagesOut += o.sent;
  t.bytesOut += o.sentBytes;
  t.uncompressedBytesOut += saved === undefined ? o.sentBytes : o.sentBytes + saved.savedOut;
}

type Terminations = WebSocketStats['terminated'];

/** The limit each failure stands for, by error code. */
const TERMINATION: Partial<Record<ErrorCode, keyof Terminations>> = {
  [ErrorCode.BufferOverflow]: 'slowReader',
  [ErrorCode.HeartbeatTimeout]: 'heartbeat',
  [ErrorCode.MemoryBudget]: 'memoryBudget',
  [ErrorCode.RateLimited]: 'rateLimit',
};

function increment(counts: Map<number, number>, key: number): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function record(counts: Map<number, number>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [key, n] of counts) out[key] = n;
  return out;
}

/**
 * The counters of a set of WebSockets: the process's, or a router's (whose WebSockets point to
 * it as their `registry`, and which holds the set of those open).
 */
export class StatsScope<T extends Counted = Counted> {
  private opened = 0;
  private closed = 0;
  private refused = 0;
  private readonly byCode = new Map<number, number>();
  private readonly byStatus = new Map<number, number>();
  private readonly terminated: Terminations = { slowReader: 0, heartbeat: 0, idle: 0, memoryBudget: 0, rateLimit: 0 };
  /** The traffic of the closed WebSockets (the open ones' is added up when read). */
  private readonly done = noTraffic();

  /** @param live the open WebSockets counted here */
  constructor(readonly live: Set<T>) {}

  /** A WebSocket opened. */
  countOpened(): void {
    this.opened++;
  }

  /** A WebSocket was closed for idling (the other limits are known from how it closed). */
  countIdle(): void {
    this.terminated.idle++;
  }

  /** An opening handshake was refused with `status`. */
  countRefused(status: number): void {
    this.refused++;
    increment(this.byStatus, status);
  }

  /** A WebSocket closed with `code`, failed with `failure` if it did: its figures join the totals. */
  countClosed(c: Counted, code: number, failure: ErrorCode | undefined): void {
    this.closed++;
    increment(this.byCode, code);
    const limit = failure === undefined ? undefined : TERMINATION[failure];
    if (limit !== undefined) this.terminated[limit]++;
    addTraffic(this.done, c);
  }

  /** The counters now. */
  snapshot(): WebSocketStats {
    const t = { ...this.done };
    let bufferedBytes = 0;
    for (const c of this.live) {
      addTraffic(t, c);
      bufferedBytes += c.heldBytes();
    }
    return {
      open: this.live.size,
      opened: this.opened,
      closed: this.closed,
      closedByCode: record(this.byCode),
      refused: this.refused,
      refusedByStatus: record(this.byStatus),
      ...t,
      bufferedBytes,
      terminated: { ...this.terminated },
    };
  }
}

/**
 * The process's counters. Its open WebSockets are the memory budget's members: every WebSocket
 * joins the budget when it is made and leaves when it closes.
 * @internal
 */
export const processStats = new StatsScope(budgetMembers as Set<BudgetMember> as Set<Counted>);

/**
 * The counters of every WebSocket of the process, server and client side, and of every refused
 * handshake: a snapshot, read without subscribing to anything (for a metrics endpoint, say).
 * {@link UpgradeRouter.stats} counts one server's.
 */
export function webSocketStats(): WebSocketStats {
  return processStats.snapshot();
}
