import { headerSize, writeHeader } from './frame-header.js';
import { maskInto, unmask, writeMaskKey } from './mask.js';

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
  flushed(): void;
}

/**
 * Where frames go: the socket, as far as the sender needs it (a `net.Socket`, a TLS socket, an
 * HTTP/2 stream or an in-memory duplex all qualify).
 */
export interface FrameSink {
  write(chunk: Buffer): unknown;
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
  readonly writable: boolean;
  /** Set by Node's writable streams while a write is waiting for 'drain'. */
  readonly writableNeedDrain?: boolean;
}

/** Marks a queued item as a complete pre-built frame. */
const RAW = 0x100;

const senders: Sender[] = [];
let flushScheduled = false;

/**
 * The last batch made only of shared frames (published messages), and those frames: the next
 * subscriber whose queue holds the same frames in the same order is written the same Buffer.
 */
let sharedFrames: (string | Buffer)[] | undefined;
let sharedBatch: Buffer | undefined;

function flushAll(): void {
  flushScheduled = false;
  // New sends made during a flush (from 'drain' handlers, say) schedule the next round.
  const batch = senders.splice(0, senders.length);
  for (let i = 0; i < batch.length; i++) batch[i]!.flush();
  sharedFrames = undefined;
  sharedBatch = undefined;
}

/**
 * Frames outgoing messages and writes them in batches: every frame queued during one turn of the
 * event loop leaves in a single `socket.write` (a single syscall), scheduled by one shared
 * `setImmediate` for all connections. Small payloads are copied into the batch; strings are
 * encoded straight into it, so a text message costs no intermediate Buffer.
 */
export class Sender {
  /** Bytes queued here and not yet handed to the socket. */
  queuedBytes = 0;

  private readonly socket: FrameSink;
  private readonly masked: boolean;
  private readonly owner: SenderOwner | undefined;
  private heads: number[] = [];
  private payloads: (string | Buffer)[] = [];
  private lengths: number[] = [];
  private count = 0;
  private scheduled = false;

  constructor(socket: FrameSink, masked: boolean, owner?: SenderOwner) {
    this.socket = socket;
    this.masked = masked;
    this.owner = owner;
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
    this.queuedBytes += headerSize(len, this.masked) + len;
  }

  private enqueue(head: number, payload: string | Buffer, len: number): void {
    const i = this.count++;
    this.heads[i] = head;
    this.payloads[i] = payload;
    this.lengths[i] = len;
    if (!this.scheduled) {
      this.scheduled = true;
      senders.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAll);
      }
    }
  }

  /** Writes everything queued now. */
  flush(): void {
    this.scheduled = false;
    const count = this.count;
    if (count === 0) return;
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) {
      this.discard();
      return;
    }
    const masked = this.masked;
    const heads = this.heads;
    const payloads = this.payloads;
    const lengths = this.lengths;

    // Size of the contiguous batch: every header plus every payload small enough to copy.
    let size = 0;
    let large = 0;
    let raw = 0;
    for (let i = 0; i < count; i++) {
      const len = lengths[i]!;
      if (heads[i] !== RAW) size += headerSize(len, masked);
      else raw++;
      if (len < COPY_LIMIT || (masked && heads[i] !== RAW)) size += len;
      else large++;
    }
    const onlyShared = raw === count && large === 0;
    if (onlyShared && sharedFrames !== undefined && sharedFrames.length === count) {
      let same = true;
      for (let i = 0; i < count && same; i++) same = payloads[i] === sharedFrames[i];
      if (same) {
        socket.write(sharedBatch!);
        this.reset(count);
        return;
      }
    }
    const frames = onlyShared ? payloads.slice(0, count) : undefined;

    if (large > 0) socket.cork();
    let buf = Buffer.allocUnsafe(size);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const len = lengths[i]!;
      const payload = payloads[i]!;
      const head = heads[i]!;
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
        payloads[i] = '';
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
        at += buf.utf8Write(payload, at, len);
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
      payloads[i] = '';
    }
    if (at > 0) socket.write(at === buf.length ? buf : buf.subarray(0, at));
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
    if (this.owner !== undefined && !this.socket.writableNeedDrain) this.owner.flushed();
  }

  private resetQueue(count: number): void {
    const payloads = this.payloads;
    for (let i = 0; i < count; i++) payloads[i] = '';
    this.count = 0;
    this.queuedBytes = 0;
    if (payloads.length > 64) {
      // Let a burst's arrays shrink back so idle connections stay small.
      this.heads = [];
      this.payloads = [];
      this.lengths = [];
    }
  }

  /** Drops everything queued (the connection is gone). */
  discard(): void {
    this.count = 0;
    this.queuedBytes = 0;
    this.heads = [];
    this.payloads = [];
    this.lengths = [];
  }
}
