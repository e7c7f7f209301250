import { Buffer } from 'node:buffer';
import { headerSize, writeHeader } from './frame-header.js';
import type { FanOut, RunMember } from './fan-out.js';
import { maskInto, unmask, writeMaskKey } from './mask.js';
import { afterWriters, writeAtTurnEnd } from './turn-flush.js';

/**
 * Payloads at least this large are written as their own chunk (header copied into the batch,
 * payload passed by reference) instead of being copied into the batch buffer.
 */
const COPY_LIMIT = 16 * 1024;

/** Strings this long are encoded once at send time rather than measured and encoded at flush. */
const STRING_ENCODE_LIMIT = 16 * 1024;

/**
 * Who is told after a flush. Bytes queued here count in `bufferedAmount` too, so `send()` can
 * return false before the socket holds anything; if the socket then takes a whole batch at once it
 * never emits 'drain', and whoever waits for one must hear of it here.
 */
export interface SenderOwner {
  /** Called only while {@link Sender.drainOwed} is set. */
  flushed(): void;
  /** The socket kept bytes of this flush that the kernel did not take at once. */
  socketHolds(): void;
}

/**
 * Where frames go: the socket, as far as the sender needs it (a `net.Socket`, a TLS socket, an
 * HTTP/2 stream or an in-memory duplex all qualify).
 */
export interface FrameSink {
  write(chunk: Buffer): unknown;
  cork(): void;
  uncork(): void;
  /**
   * False once the sink can take no more (Node's writable streams: destroyed, errored or ended),
   * the one thing a flush asks before writing.
   */
  readonly writable: boolean;
  /** Set by Node's writable streams while a write is waiting for 'drain'. */
  readonly writableNeedDrain?: boolean;
  /** Bytes the sink holds that it has not passed on yet (Node's writable streams have it). */
  readonly writableLength?: number;
}

/** First header byte of an unmasked, unfragmented, uncompressed text frame. */
const TEXT_FIN = 0x81;

/** Payloads this short take the two-byte header (RFC 6455 section 5.2: 7-bit length). */
const SHORT_PAYLOAD = 126;

/**
 * A joined row stops growing at this many characters and the next starts: the string is
 * flattened (copied) before it is written, and a burst queued in one turn could otherwise
 * pass V8's longest string.
 */
const JOINED_TEXT_LIMIT = 16 * 1024;

/**
 * The two header bytes of an unmasked final text frame with a short payload, as a latin1 string,
 * by payload length: a header then encodes with its payload in one string write.
 */
const SHORT_TEXT_HEADERS: readonly string[] = Array.from({ length: SHORT_PAYLOAD }, (_, len) => String.fromCharCode(TEXT_FIN, len));

/** Marks a queued item as a complete pre-built frame. */
const RAW = 0x100;
/** Marks a queued item as a {@link FanOut}: its frames, however many it holds at the flush. */
const RUN = 0x200;

/** The queue of a sender that has not sent yet: shared, never written to. */
const NO_FRAMES: (number | string | Buffer)[] = [];

/** Frames a sender's queue keeps room for between flushes; after a longer burst it lets the array go. */
const FRAMES_KEPT = 64;

/**
 * Whether the frame queued at `q` is a final text frame whose payload is a short ASCII string.
 * Its UTF-8 length equals its length in UTF-16 code units only if every character is ASCII, and
 * then its latin1 bytes are its UTF-8 bytes.
 */
function isShortAscii(queue: (number | string | Buffer)[], q: number): boolean {
  const payload = queue[q + 1]!;
  const len = queue[q + 2] as number;
  return queue[q] === TEXT_FIN && typeof payload === 'string' && len < SHORT_PAYLOAD && len === payload.length;
}

/** The payloads of the first `count` frames of a queue. */
function payloadsOf(queue: (number | string | Buffer)[], count: number): (string | Buffer)[] {
  const payloads = new Array<string | Buffer>(count);
  for (let i = 0; i < count; i++) payloads[i] = queue[3 * i + 1] as string | Buffer;
  return payloads;
}

/**
 * Batches up to this size are framed in one Buffer that every sender of the process shares, as
 * uWebSockets.js corks every socket of a loop into one buffer: a TCP socket with nothing pending
 * nearly always takes a small batch whole, inside write(), which leaves the Buffer free for the
 * next connection. The batch then costs no allocation and stays in cache. When a socket keeps the
 * Buffer (the kernel took only part of it) a new one replaces it; at this size that pins less than
 * a batch sliced from Buffer's pool can (its 8 KiB slab).
 */
const BATCH_BUFFER_SIZE = 4 * 1024;
let batchBuffer = Buffer.allocUnsafeSlow(BATCH_BUFFER_SIZE);

const enum Flag {
  /** Frames are masked (a client's). */
  Masked = 1,
  /** Small batches may be framed in the shared batch Buffer (see BATCH_BUFFER_SIZE). */
  SharesBatchBuffer = 2,
  /** Queued for this turn's flush. */
  Scheduled = 4,
  /** The owner waits to hear of the next flush (see {@link Sender.drainOwed}). */
  DrainOwed = 8,
}

/**
 * The last batch made only of shared frames (published messages), and those frames: the next
 * subscriber whose queue holds the same frames in the same order is written the same Buffer.
 */
let sharedFrames: (string | Buffer)[] | undefined;
let sharedBatch: Buffer | undefined;

// The shared frames' batch is good for one flush of the turn's writers only.
afterWriters(() => {
  sharedFrames = undefined;
  sharedBatch = undefined;
});

/**
 * Frames outgoing messages and writes them in batches: every frame queued during one turn of the
 * event loop leaves in a single `socket.write` (a single syscall), scheduled by one shared
 * `setImmediate` for all connections. Small payloads are copied into the batch; strings are
 * encoded straight into it, so a text message costs no intermediate Buffer.
 */
export class Sender implements RunMember {
  /** Bytes queued here and not yet handed to the socket. */
  queuedBytes = 0;
  /**
   * What the socket held (its `writableLength`) when last asked: after each flush, or by the
   * owner. Only the sender writes to it, so the socket holds this much or less until the next flush.
   */
  inSocket = 0;
  /**
   * Data messages queued, for the counters: those the owner queued (it counts them here) and
   * those of the runs this connection followed (see {@link FanOut}). And their payload bytes.
   */
  messagesSent = 0;
  payloadBytesSent = 0;

  private readonly socket: FrameSink;
  /** {@link Flag} bits: one field for what the sender knows of its frames, its sink and its state. */
  private flags: number;
  private readonly owner: SenderOwner | undefined;
  /**
   * The queued frames, three slots each: the header's first byte (or RAW, RUN), the payload,
   * its length. One array, made on the first send: an idle connection keeps none.
   */
  private queue: (number | string | Buffer)[] = NO_FRAMES;
  /** Frames in `queue`. */
  private count = 0;
  /**
   * @internal The run this connection follows: the last item of its queue, still growing, or,
   * for a member (see {@link FanOut}), a run written to it in an earlier turn that carried over.
   */
  run: FanOut | undefined;

  /**
   * @param sharesBatchBuffer the sink copies what it does not keep by the time write() returns
   *   (a plain TCP socket, not a stream that passes the Buffer on): its small batches may then be
   *   framed in a Buffer every such sender shares.
   */
  constructor(socket: FrameSink, masked: boolean, owner?: SenderOwner, sharesBatchBuffer = false) {
    this.socket = socket;
    this.inSocket = socket.writableLength ?? 0;
    this.flags = (masked ? Flag.Masked : 0) | (sharesBatchBuffer ? Flag.SharesBatchBuffer : 0);
    this.owner = owner;
  }

  /**
   * Set by the owner while it owes someone a 'drain' or waits for one: only then is it told of
   * each flush ({@link SenderOwner.flushed}), so that a flush asks nothing else of it.
   */
  get drainOwed(): boolean {
    return (this.flags & Flag.DrainOwed) !== 0;
  }

  set drainOwed(owed: boolean) {
    this.flags = owed ? this.flags | Flag.DrainOwed : this.flags & ~Flag.DrainOwed;
  }

  /** Bytes queued and not yet handed to the socket, the followed run's included. */
  get queued(): number {
    return this.run === undefined ? this.queuedBytes : this.queuedBytes + this.run.bytes;
  }

  /**
   * Queues a run of published frames (see {@link FanOut}); it holds at least one frame. A run
   * queued when nothing else is stays out of the queue (the common case of a subscriber: the
   * queue array is neither made nor touched), until something is queued after it; then, if
   * `member`, the run writes to this connection itself and may carry it over to later turns.
   */
  queueRun(run: FanOut, member: boolean): void {
    const earlier = this.run;
    if (earlier !== undefined && earlier.messages === 0) {
      // A run carried over from an earlier turn with nothing in this one: it loses a member.
      earlier.close();
      this.run = undefined;
    }
    if (this.count === 0 && this.run === undefined) {
      this.run = run;
      if (member) run.join(this);
      else {
        run.joinBehind();
        this.schedule();
      }
      return;
    }
    run.joinBehind();
    this.enqueue(RUN, run as unknown as Buffer, 0);
    this.run = run;
  }

  /**
   * The followed run is complete for this connection: its bytes are queued, its messages sent.
   * A run kept out of the queue (see {@link queueRun}) is then still this sender's only item.
   */
  private leaveRun(run: FanOut): void {
    run.open = false;
    this.run = undefined;
    this.queuedBytes += run.bytes;
    this.messagesSent += run.messages;
    this.payloadBytesSent += run.payloadBytes;
  }

  /**
   * @internal Writes `all`, the frames of the run this member follows (see {@link FanOut.flush}).
   * @returns whether it may follow the run into the next turn: the socket took everything.
   */
  writeRun(run: FanOut, all: Buffer): boolean {
    this.messagesSent += run.messages;
    this.payloadBytesSent += run.payloadBytes;
    const socket = this.socket;
    if (!socket.writable) {
      this.run = undefined;
      this.discard();
      return false;
    }
    // A member has nothing queued of its own (anything queued makes it leave): no queue to empty.
    // Its owner, if owed a 'drain', is told by the run once the run has settled.
    socket.write(all);
    return this.readSocket() === 0;
  }

  /** @internal Tells the owner of a flush, while it is owed a 'drain' and the socket will not say one. */
  tellFlushed(): void {
    if ((this.flags & Flag.DrainOwed) !== 0 && !this.socket.writableNeedDrain) this.owner?.flushed();
  }

  /**
   * Queues a complete, already framed (unmasked) frame, shared with other connections: a
   * published message is framed once and the same Buffer is queued for every subscriber.
   */
  queueShared(frame: Buffer): void {
    this.enqueue(RAW, frame, frame.length);
    this.queuedBytes += frame.length;
  }

  /** Queues one frame. `len` is the payload's byte length (precomputed for strings). */
  queueFrame(opcode: number, payload: string | Buffer, len: number, fin: boolean, rsv1: boolean): void {
    if (typeof payload === 'string' && len >= STRING_ENCODE_LIMIT) payload = Buffer.from(payload, 'utf8');
    this.enqueue((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode, payload, len);
    this.queuedBytes += headerSize(len, (this.flags & Flag.Masked) !== 0) + len;
  }

  private enqueue(head: number, payload: string | Buffer, len: number): void {
    const run = this.run;
    if (run !== undefined) {
      // Anything queued after a run ends it: later frames must not slip in ahead of this one.
      this.leaveRun(run);
      // A run kept out of the queue takes its place there first (one carried over with nothing
      // in this turn has nothing to write).
      if (this.count === 0 && run.messages > 0) this.enqueue(RUN, run as unknown as Buffer, 0);
    }
    if (this.queue === NO_FRAMES) this.queue = [];
    const at = 3 * this.count++;
    const queue = this.queue;
    queue[at] = head;
    queue[at + 1] = payload;
    queue[at + 2] = len;
    this.schedule();
  }

  /** Has this sender flushed by the shared `setImmediate`, once per turn. */
  private schedule(): void {
    if ((this.flags & Flag.Scheduled) === 0) {
      this.flags |= Flag.Scheduled;
      writeAtTurnEnd(this);
    }
  }

  /** Writes everything queued now. */
  flush(): void {
    this.flags &= ~Flag.Scheduled;
    const socket = this.socket;
    const run = this.run;
    if (run !== undefined) {
      this.leaveRun(run);
      if (this.count === 0) {
        // A run kept out of the queue, alone (a member's run carried over may have nothing yet).
        if (run.messages === 0) return;
        if (socket.writable) {
          socket.write(run.all());
          this.reset(0);
        } else this.discard();
        return;
      }
    }
    const count = this.count;
    if (count === 0) return;
    if (!socket.writable) {
      this.discard();
      return;
    }
    const masked = (this.flags & Flag.Masked) !== 0;
    const queue = this.queue;

    // Size of the contiguous batch: every header plus every payload small enough to copy.
    let size = 0;
    let large = 0;
    let raw = 0;
    for (let q = 0; q < 3 * count; q += 3) {
      const head = queue[q] as number;
      if (head === RUN) {
        // Written whole, by reference: the same Buffer for every follower.
        queue[q + 2] = (queue[q + 1] as unknown as FanOut).bytes;
        large++;
        continue;
      }
      const len = queue[q + 2] as number;
      if (head !== RAW) size += headerSize(len, masked);
      else raw++;
      if (len < COPY_LIMIT || (masked && head !== RAW)) size += len;
      else large++;
    }
    const onlyShared = raw === count && large === 0;
    if (onlyShared && sharedFrames !== undefined && sharedFrames.length === count) {
      let same = true;
      for (let i = 0; i < count && same; i++) same = queue[3 * i + 1] === sharedFrames[i];
      if (same) {
        socket.write(sharedBatch!);
        this.reset(count);
        return;
      }
    }
    const frames = onlyShared ? payloadsOf(queue, count) : undefined;

    if (large > 0) socket.cork();
    const inBatchBuffer =
      frames === undefined &&
      large === 0 &&
      size <= BATCH_BUFFER_SIZE &&
      (this.flags & Flag.SharesBatchBuffer) !== 0 &&
      socket.writableLength === 0;
    let buf = inBatchBuffer ? batchBuffer : Buffer.allocUnsafe(size);
    let at = 0;
    for (let q = 0; q < 3 * count; q += 3) {
      const head = queue[q] as number;
      const payload = queue[q + 1] as string | Buffer;
      const len = queue[q + 2] as number;
      if (head === RUN) {
        if (at > 0) socket.write(buf.subarray(0, at));
        socket.write((payload as unknown as FanOut).all());
        buf = buf.subarray(at);
        at = 0;
        continue;
      }
      if (head === RAW) {
        const frame = payload as Buffer;
        if (len < COPY_LIMIT) {
          frame.copy(buf, at);
          at += len;
        } else {
          if (at > 0) socket.write(buf.subarray(0, at));
          socket.write(frame);
          buf = buf.subarray(at);
          at = 0;
        }
        continue;
      }
      if (!masked && isShortAscii(queue, q) && q + 3 < 3 * count && isShortAscii(queue, q + 3)) {
        // A row of short ASCII text frames (an echo's replies, a chat's lines): their headers
        // and payloads joined in one string cost one latin1Write instead of one per frame,
        // and a native call costs more than the copy V8 makes to flatten the joined string.
        let text = SHORT_TEXT_HEADERS[len]! + (payload as string);
        let next = q + 3;
        do {
          text = text + SHORT_TEXT_HEADERS[queue[next + 2] as number]! + (queue[next + 1] as string);
          next += 3;
        } while (next < 3 * count && text.length < JOINED_TEXT_LIMIT && isShortAscii(queue, next));
        at += buf.latin1Write(text, at, text.length);
        q = next - 3;
        continue;
      }
      at += writeHeader(buf, at, (head & 0x80) !== 0, (head & 0x40) !== 0, head & 0x0f, len, masked);
      if (masked) {
        const key = writeMaskKey(buf, at - 4);
        if (typeof payload === 'string') {
          buf.utf8Write(payload, at, len);
          unmask(buf, at, at + len, key, 0);
        } else {
          maskInto(payload, 0, len, buf, at, key);
        }
        at += len;
      } else if (typeof payload === 'string') {
        // UTF-8 as long as the string is ASCII: latin1Write writes the same bytes in 60% of the time.
        at += len === payload.length ? buf.latin1Write(payload, at, len) : buf.utf8Write(payload, at, len);
      } else if (len < COPY_LIMIT) {
        payload.copy(buf, at);
        at += len;
      } else {
        // Header joins the batch so far; the payload goes by reference, no copy.
        socket.write(buf.subarray(0, at));
        socket.write(payload);
        buf = buf.subarray(at);
        at = 0;
      }
    }
    if (at > 0) socket.write(at === buf.length ? buf : buf.subarray(0, at));
    if (inBatchBuffer && socket.writableLength !== 0) batchBuffer = Buffer.allocUnsafeSlow(BATCH_BUFFER_SIZE);
    if (large > 0) socket.uncork();
    if (frames !== undefined) {
      sharedFrames = frames;
      sharedBatch = buf;
    }
    this.reset(count);
  }

  /** After a flush: the queue is empty, and the owner hears of it unless the socket will say 'drain'. */
  private reset(count: number): void {
    this.resetQueue(count);
    this.readSocket();
    this.tellFlushed();
  }

  /** After a write: what the socket kept (`inSocket`), of which the owner hears if anything. */
  private readSocket(): number {
    const inSocket = (this.inSocket = this.socket.writableLength ?? 0);
    if (inSocket > 0) this.owner?.socketHolds();
    return inSocket;
  }

  /** Empties the queue: every payload slot is let go here, whichever way the flush went. */
  private resetQueue(count: number): void {
    const queue = this.queue;
    for (let q = 1; q < 3 * count; q += 3) queue[q] = '';
    this.count = 0;
    this.queuedBytes = 0;
    // Let a burst's array go so idle connections stay small.
    if (queue.length > 3 * FRAMES_KEPT) this.queue = NO_FRAMES;
  }

  /** Drops everything queued (the connection is gone). */
  discard(): void {
    if (this.run !== undefined) this.leaveRun(this.run);
    this.count = 0;
    this.queuedBytes = 0;
    this.queue = NO_FRAMES;
  }
}
