import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ErrorCode, rangeError, WebSocketError } from '../errors.js';
import { wholeMessage, type Message } from './message.js';
import { emitToListeners } from './listener-table.js';
import { type BudgetMember, mayHold } from './memory-budget.js';
import { RateLimiter, type ResolvedRateLimit } from './rate-limit.js';

/** What the receive side needs of its connection (a member of the memory budget: unread messages count). */
export interface InboundOwner extends BudgetMember {
  readonly socket: Duplex;
  readonly options: { readonly receiveHighWaterMark: number; readonly rateLimit: ResolvedRateLimit | undefined };
  /** Whether the connection is closed (reading never resumes then). */
  readonly isClosed: boolean;
  listenerCount(event: 'message'): number;
  emit(event: 'message', message: Message): boolean;
  /** For the rate limit: a dropped message (`'drop'`), or the failure that closes the connection (`'close'`). */
  emit(event: 'ratelimit', bytes: number, binary: boolean): boolean;
  onError(err: WebSocketError): void;
  /** Every message that arrived before the peer's close has been read. */
  inboxEmptied(): void;
}

/** Why reading from the socket is paused; reading resumes when no reason is left. */
export const Pause = {
  /** `pause()`. */
  User: 1,
  /** Unread messages reached `receiveHighWaterMark`. */
  Inbox: 2,
  /** Automatic replies (pongs) wait to be written: a peer that pings without reading is pushed back by TCP. */
  Replies: 4,
  /** The receiver inflated a slice of data and waits for the next turn (see INFLATE_SLICE). */
  Inflate: 8,
} as const;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/** A waiting `receive()`. */
interface Waiter {
  resolve: (msg: Message | null) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A waiting `for await` step: the resolve function of the promise `next()` returned, nothing
 * around it. An idle connection read by `for await` holds one for its whole life.
 */
type Step = (result: IteratorResult<Message>) => void;

/** Whoever waits for the next message. */
type Reader = Waiter | Step;

/** Hands `msg` (null: no more messages) to a reader. */
function settle(reader: Reader, msg: Message | null): void {
  if (typeof reader === 'function') {
    reader(msg === null ? DONE : { value: msg, done: false });
    return;
  }
  if (reader.timer) clearTimeout(reader.timer);
  reader.resolve(msg);
}

/**
 * The empty arrays every connection starts with, so an idle one keeps no arrays of its own.
 * Never pushed to (a connection swaps in its own array first); `shift()` on them is a no-op.
 */
const NONE: never[] = [];

/** Bytes a queued message holds beyond its payload, near enough: its object and its two slots. */
export const QUEUED_MESSAGE_COST = 64;

/** Slots of `Inbound.queue` (two per message) it keeps once emptied; beyond them it compacts while read. */
const QUEUE_KEPT = 64;

/**
 * The receive side of a connection, after the receiver: where each whole message goes (a waiting
 * `receive()`, the `message` listeners, or the queue of unread messages), the read pauses that
 * make TCP push back, and the end of input.
 */
export class Inbound {
  /** Bytes of the queued messages' payloads (`queuedAmount`). */
  bytes = 0;
  /** No more messages can arrive (close frame received, connection failed or ended). */
  ended = false;
  /** Data messages received (for the counters; in frame mode, messages whose last frame arrived). */
  received = 0;
  /** Their bytes, after decompression. */
  receivedBytes = 0;
  /** A bit per reason reading is paused (see {@link Pause}). */
  private pausedBy = 0;
  /**
   * The unread messages, each followed by its size, from `head` to `tail`: one array written and
   * read by index and kept between bursts, so a message queued behind a waiting `for await` costs
   * two stores and two loads (shift(), and push() after emptying, cost more; see QUEUE_KEPT).
   */
  private queue: (Message | number | undefined)[] = NONE;
  /** Where the oldest unread message is in `queue`. */
  private head = 0;
  /** Where the next message goes in `queue`. */
  private tail = 0;
  /** The oldest waiting reader, outside the array: there is seldom more than one. */
  private reader: Reader | undefined;
  /** The readers that wait after it, oldest first. */
  private readers: Reader[] = NONE;
  /** Decodes text frames in frame mode, where a code point may span frames. */
  private textDecoder: StringDecoder | undefined;

  /** The `rateLimit` option's buckets, when it is set. */
  private readonly limiter: RateLimiter | undefined;

  constructor(private readonly owner: InboundOwner) {
    const limit = owner.options.rateLimit;
    this.limiter = limit === undefined ? undefined : new RateLimiter(limit, owner);
  }

  /**
   * What the queued messages hold: their payloads and {@link QUEUED_MESSAGE_COST} for each, what
   * `receiveHighWaterMark` and the memory budget measure. Counting payloads alone, a peer sending
   * empty messages (6 bytes each on the wire) to a handler that does not read would never be
   * paused, and the queue would grow without bound.
   */
  get heldBytes(): number {
    return this.bytes + ((this.tail - this.head) >> 1) * QUEUED_MESSAGE_COST;
  }

  /** How many messages are queued. */
  get unread(): number {
    return (this.tail - this.head) >> 1;
  }

  /** Whether reading is paused, for any reason. */
  get isPaused(): boolean {
    return this.pausedBy !== 0;
  }

  /** Whether reading is paused for `reason`. */
  pausedFor(reason: number): boolean {
    return (this.pausedBy & reason) !== 0;
  }

  /** A message (or, in frame mode, a frame) of `size` bytes arrived. */
  deliver(msg: Message, size: number): void {
    const owner = this.owner;
    const reader = this.reader;
    if (reader !== undefined) {
      this.reader = this.readers.shift();
      settle(reader, msg);
      emitToListeners(owner, 'message', msg);
      return;
    }
    if (emitToListeners(owner, 'message', msg)) return;
    if (this.queue === NONE) this.queue = [];
    const tail = this.tail;
    // Once per burst: a queue that never empties was never forgotten by the budget.
    if (tail === this.head) mayHold(owner);
    this.queue[tail] = msg;
    this.queue[tail + 1] = size;
    this.tail = tail + 2;
    this.bytes += size;
    // Nobody is reading: stop reading the socket, so TCP pushes back instead of memory growing.
    if (this.heldBytes >= owner.options.receiveHighWaterMark) this.pause(Pause.Inbox);
  }

  /** A whole message arrived: its bytes, or a short ASCII text already decoded (see `ReceiverHandler.onMessage`). */
  deliverMessage(binary: boolean, data: Buffer | string): void {
    const size = data.length;
    this.received++;
    this.receivedBytes += size;
    if (this.limiter !== undefined && !this.limiter.admit(binary, size)) return;
    this.deliver(typeof data === 'string' ? { data, binary: false, fin: true } : wholeMessage(binary, data), size);
  }

  /** A data frame arrived in frame mode: text is decoded across frames, as code points may span them. */
  deliverFrame(binary: boolean, data: Buffer, fin: boolean): void {
    if (fin) this.received++;
    this.receivedBytes += data.length;
    if (this.limiter !== undefined && !this.limiter.admitFrame(binary, data.length, fin)) return;
    if (binary) {
      this.deliver({ data, binary: true, fin }, data.length);
      return;
    }
    this.textDecoder ??= new StringDecoder('utf8');
    const text = fin ? this.textDecoder.end(data) : this.textDecoder.write(data);
    this.deliver({ data: text, binary: false, fin }, data.length);
  }

  /**
   * Drops every unread message at once: the connection was closed for abuse, and what it holds
   * must be released now, not when the application gets round to reading it.
   */
  discard(): void {
    this.queue = NONE;
    this.head = 0;
    this.tail = 0;
    this.bytes = 0;
  }

  /** Takes the oldest unread message, if any. */
  take(): Message | undefined {
    const at = this.head;
    if (at === this.tail) return undefined;
    const queue = this.queue;
    const msg = queue[at] as Message;
    this.bytes -= queue[at + 1] as number;
    queue[at] = undefined;
    const emptied = at + 2 === this.tail;
    if (emptied) {
      this.head = this.tail = 0;
      // A burst this deep is rare: let its array go rather than keep it for the connection's life.
      if (queue.length > QUEUE_KEPT) this.queue = NONE;
    } else if (at + 2 > QUEUE_KEPT && (at + 2) * 2 > this.tail) {
      // A reader that never quite catches up never empties the queue: move the unread messages
      // to the front once the read half outgrows them, or the array would grow for ever.
      queue.copyWithin(0, at + 2, this.tail);
      this.tail -= at + 2;
      queue.length = this.tail;
      this.head = 0;
    } else {
      this.head = at + 2;
    }
    if (this.pausedFor(Pause.Inbox) && this.heldBytes <= this.owner.options.receiveHighWaterMark / 2) this.resume(Pause.Inbox);
    if (emptied) this.owner.inboxEmptied();
    return msg;
  }

  /**
   * Waits for the next message. After `timeoutSeconds` the promise rejects with `ERR_TIMEOUT`
   * and stops waiting, so a later message goes to the next reader.
   */
  wait(timeoutSeconds: number | undefined): Promise<Message | null> {
    if (
      timeoutSeconds !== undefined &&
      (typeof timeoutSeconds !== 'number' || !(timeoutSeconds >= 0) || !Number.isFinite(timeoutSeconds))
    ) {
      return Promise.reject(rangeError(`receive() timeout must be a number of seconds, got ${String(timeoutSeconds)}`));
    }
    return new Promise<Message | null>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (timeoutSeconds !== undefined) {
        waiter.timer = setTimeout(() => {
          this.forget(waiter);
          reject(new WebSocketError(ErrorCode.Timeout, `no message within ${timeoutSeconds} s`));
        }, timeoutSeconds * 1000);
      }
      this.addReader(waiter);
    });
  }

  /**
   * The next step of `for await`: like `receive()` without a timeout, but settling with the
   * iterator result itself, so a loop pays one promise per message rather than two.
   */
  next(): Promise<IteratorResult<Message>> {
    const msg = this.take();
    if (msg !== undefined) return Promise.resolve({ value: msg, done: false });
    if (this.ended) return Promise.resolve(DONE);
    // It never rejects: the end of input is `done`, and a failed connection ends its input.
    return new Promise<IteratorResult<Message>>((resolve) => this.addReader(resolve));
  }

  private addReader(reader: Reader): void {
    if (this.reader === undefined) {
      this.reader = reader;
      return;
    }
    if (this.readers === NONE) this.readers = [];
    this.readers.push(reader);
  }

  /** A `receive()` timed out: the next message goes to the reader after it. */
  private forget(reader: Reader): void {
    if (this.reader === reader) {
      this.reader = this.readers.shift();
      return;
    }
    const i = this.readers.indexOf(reader);
    if (i !== -1) this.readers.splice(i, 1);
  }

  /**
   * A 'message' listener was added: messages that arrived before anyone listened go to the first
   * listener, once it has been added ('newListener' fires before).
   */
  listenerAdded(): void {
    if (this.unread > 0) queueMicrotask(() => this.drainToListeners());
  }

  /** Hands queued messages to listeners that were added after they arrived. */
  drainToListeners(): void {
    while (this.owner.listenerCount('message') > 0) {
      const msg = this.take();
      if (msg === undefined) return;
      this.owner.emit('message', msg);
    }
  }

  pause(reason: number): void {
    if ((this.pausedBy & reason) !== 0) return;
    this.pausedBy |= reason;
    this.owner.socket.pause();
  }

  resume(reason: number): void {
    this.pausedBy &= ~reason;
    if (this.pausedBy === 0 && !this.owner.isClosed) this.owner.socket.resume();
  }

  /** Stops reading until a later turn of the event loop, then resumes and calls `then`. */
  yieldTurn(then: () => void): void {
    this.pause(Pause.Inflate);
    setImmediate(() => {
      this.resume(Pause.Inflate);
      then();
    });
  }

  /** No more messages will arrive: every waiting `receive()` gets null. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const first = this.reader;
    const rest = this.readers;
    this.reader = undefined;
    this.readers = NONE;
    if (first !== undefined) settle(first, null);
    for (const reader of rest) settle(reader, null);
  }
}

/**
 * The 'newListener' listener every connection shares (no closure per connection): a 'message'
 * listener takes the messages received before it.
 */
export function onNewListener(this: { readonly inbound: Inbound }, event: string | symbol): void {
  if (event === 'message') this.inbound.listenerAdded();
}

/**
 * `for await` over a WebSocket. A class rather than an object of closures: a loop suspended in
 * it is held for the whole life of an idle connection, so every byte of it counts.
 */
export class MessageIterator implements AsyncIterableIterator<Message> {
  constructor(private readonly inbound: Inbound) {}

  next(): Promise<IteratorResult<Message>> {
    return this.inbound.next();
  }

  /** Leaving the loop early does not close the connection; call close() for that. */
  return(): Promise<IteratorResult<Message>> {
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return this;
  }
}
