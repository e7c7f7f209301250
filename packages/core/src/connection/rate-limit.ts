/**
 * The `rateLimit` option: a token bucket per connection over the messages the peer sends, counted
 * in messages and/or bytes per period, with a burst of one period's allowance.
 */
import { ErrorCode, rangeError, WebSocketError } from '../errors.js';
import { checkObject, count, oneOf, seconds } from '../option-validators.js';
import { CloseCode } from '../protocol/constants.js';

/**
 * How much the peer may send: `messages` and/or `bytes` per `per` seconds, in bursts of up to one
 * period's allowance (a token bucket that refills continuously). Data messages only: pings are
 * bounded by the send budget already (their pongs count against `maxBuffered`), pongs and the
 * close frame are not limited.
 */
export interface RateLimitOptions {
  /** Messages per period (and most in one burst). Default: not limited. */
  messages?: number;
  /**
   * Bytes of messages per period, counted after decompression (what the application receives).
   * A message up to this size needs as many bytes left in the bucket; a bigger one needs a full
   * bucket and leaves it in debt, so it is not refused forever and the average still holds.
   * Default: not limited.
   */
  bytes?: number;
  /** The period in seconds (fractions allowed). Default 1. */
  per?: number;
  /**
   * What a message past the limit does: `'close'` (the default) closes the connection with 1008
   * and `ERR_RATE_LIMITED`; `'drop'` discards the message and emits `'ratelimit'` with its size,
   * and the connection goes on. In frame mode the decision is made at a message's first frame and
   * holds for the whole message.
   */
  action?: 'close' | 'drop';
}

/** {@link RateLimitOptions} after validation; one object shared by the connections that use it. */
export interface ResolvedRateLimit {
  /** Bucket sizes; Infinity when that kind is not limited. */
  readonly messages: number;
  readonly bytes: number;
  readonly perMs: number;
  /** Refill per millisecond; 0 when that kind is not limited. */
  readonly messagesPerMs: number;
  readonly bytesPerMs: number;
  readonly drop: boolean;
}

/** Validates the option; undefined when it is absent. */
export function resolveRateLimit(value: unknown): ResolvedRateLimit | undefined {
  if (value === undefined) return undefined;
  const o = checkObject(value, 'rateLimit');
  const messages = count(o.messages, 'rateLimit.messages');
  const bytes = count(o.bytes, 'rateLimit.bytes');
  if (messages === Infinity && bytes === Infinity) throw rangeError('rateLimit needs messages or bytes (or both)');
  const perMs = seconds(o.per, 'rateLimit.per', 1);
  return {
    messages,
    bytes,
    perMs,
    messagesPerMs: messages === Infinity ? 0 : messages / perMs,
    bytesPerMs: bytes === Infinity ? 0 : bytes / perMs,
    drop: oneOf(o.action, 'rateLimit.action', ['close', 'drop'] as const, 'close') === 'drop',
  };
}

/** Whether two connections' limits are the same (for sharing resolved options). */
export function sameRateLimit(a: ResolvedRateLimit | undefined, b: ResolvedRateLimit | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.messages === b.messages && a.bytes === b.bytes && a.perMs === b.perMs && a.drop === b.drop;
}

/** What a limiter needs of its connection. */
export interface RateLimitOwner {
  /** Fails the connection (`'close'`). */
  onError(err: WebSocketError): void;
  /** Reports a dropped message (`'drop'`). */
  emit(event: 'ratelimit', bytes: number, binary: boolean): boolean;
}

/** One connection's buckets. Made only for connections with the option: others pay one undefined check per message. */
export class RateLimiter {
  private messages: number;
  private bytes: number;
  private last: number;
  /** Frame mode: a message's first frame has passed and its last has not. */
  private midMessage = false;
  /** Frame mode: the message under way is being dropped. */
  private dropping = false;

  constructor(
    private readonly limit: ResolvedRateLimit,
    private readonly owner: RateLimitOwner,
  ) {
    this.messages = limit.messages;
    this.bytes = limit.bytes;
    this.last = performance.now();
  }

  /** A whole message of `size` bytes arrived: whether to deliver it (past the limit: closes or drops). */
  admit(binary: boolean, size: number): boolean {
    this.refill();
    const full = this.limit.bytes;
    if (this.messages >= 1 && this.bytes >= Math.min(size, full)) {
      this.messages -= 1;
      this.bytes -= size;
      return true;
    }
    this.exceeded(binary, size);
    return false;
  }

  /**
   * Frame mode: a data frame of `size` bytes arrived. A message's first frame is judged as a
   * message is; its later frames follow that decision (their bytes are counted, possibly into
   * debt), so a message is delivered whole or not at all.
   */
  admitFrame(binary: boolean, size: number, fin: boolean): boolean {
    if (!this.midMessage) {
      this.dropping = !this.admit(binary, size);
    } else if (!this.dropping) {
      this.refill();
      this.bytes -= size;
    }
    this.midMessage = !fin;
    return !this.dropping;
  }

  private refill(): void {
    const now = performance.now();
    const elapsed = now - this.last;
    this.last = now;
    const l = this.limit;
    if (this.messages < l.messages) this.messages = Math.min(l.messages, this.messages + elapsed * l.messagesPerMs);
    if (this.bytes < l.bytes) this.bytes = Math.min(l.bytes, this.bytes + elapsed * l.bytesPerMs);
  }

  private exceeded(binary: boolean, size: number): void {
    const l = this.limit;
    if (l.drop) {
      this.owner.emit('ratelimit', size, binary);
      return;
    }
    const what = this.messages < 1 ? `${l.messages} messages` : `${l.bytes} bytes`;
    const message = `rate limit exceeded: more than ${what} per ${l.perMs / 1000} s`;
    this.owner.onError(new WebSocketError(ErrorCode.RateLimited, message, { closeCode: CloseCode.PolicyViolation }));
  }
}
