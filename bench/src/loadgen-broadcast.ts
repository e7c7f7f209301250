/**
 * The broadcast run of the load generator: one publisher connection, many subscriber connections.
 *
 * Load. At most `inflight` messages may be published and not yet delivered to every subscriber,
 * so no server's queues can grow without bound. They go out in batches of half that window: the
 * next batch is written as soon as the server has started delivering the previous one (a
 * subscriber received its first message) and the window has room. The server therefore always
 * finds the next batch waiting when it finishes one, and never waits for the generator to read
 * everything first; the delivery rate is what its fan-out sustains.
 *
 * Verification. Every message is numbered (its first ten bytes are the number in decimal) and the
 * rest of it rotates through distinct fillers, so comparing it with the expected bytes checks at
 * once that a subscriber got it intact, in order, with nothing lost or repeated. A message is
 * complete once every subscriber has it; each subscriber receives in order, so messages complete
 * in order too, which the counters rely on and check.
 *
 * Cost. RFC 6455 fixes how a server frames an unfragmented message (the shortest length
 * encoding), so the generator knows the exact bytes each subscriber must receive: the frames of
 * the messages in flight, kept in a ring. Each chunk a subscriber reads is compared with the
 * ring in one call, however many messages it holds. Only if that fails does the subscriber fall
 * back to decoding frame by frame, which either explains the failure or accepts framing that is
 * legal but different (fragments, pings) and keeps checking that way.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BenchError, fail, openReader, openSocket, sleep } from './handshake.js';
import { Histogram } from './histogram.js';
import { makePayload, prng } from './payloads.js';
import type { BroadcastJob, BroadcastResult } from './protocol.js';
import { handshakeRequest, OP_CLOSE, OP_TEXT, readHeader, xorMask, type HeaderReader } from './wire.js';

/** Distinct message bodies; more than any window, so a stale message never passes for a new one. */
const FILLERS = 64;
const SEQ_DIGITS = 10;

const enum Phase {
  Warmup,
  Measure,
  Drain,
}

export interface BroadcastHooks {
  mark(phase: 'measure-start' | 'measure-end'): void;
}

class Run {
  phase = Phase.Warmup;
  /** Messages sent by the publisher; message numbers are 0 … sent-1. */
  sent = 0;
  /** Messages delivered to every subscriber (always a prefix: 0 … completed-1). */
  completed = 0;
  /** Deliveries: one message arriving, verified, at one subscriber. */
  delivered = 0;
  publisherWrites = 0;
  subscriberReads = 0;
  readonly hist = new Histogram();
  readonly window: number;
  private readonly batch: number;
  /** Size of the server frame of one message, and of its header. */
  readonly frameBytes: number;
  readonly headerBytes: number;
  /** The server frame of message n, while it is in flight, is at `(n % window) * frameBytes`. */
  readonly ring: Buffer;
  private readonly sentAt: Float64Array;
  /** Subscribers that have message n, at `got[n % window]`. */
  private readonly got: Uint32Array;
  private readonly fillers: Buffer[];
  private readonly keys = prng(0xb0ad);
  /** First message of the latest batch, and whether any subscriber has received it yet. */
  private batchStart = 0;
  private batchSeen = false;
  private publisher: Socket | undefined;
  private failure: ((err: unknown) => void) | undefined;
  private drainWaiter: (() => void) | undefined;
  readonly failed: Promise<never>;
  private isFailed = false;

  constructor(
    readonly job: BroadcastJob,
    readonly subscribers: number,
  ) {
    if (job.payloadBytes < SEQ_DIGITS + 2 || job.payloadBytes > 0xffff) fail('broadcast messages must be 12 to 65535 bytes');
    if (job.inflight < 2) fail('broadcast needs at least 2 messages in flight (two batches)');
    this.window = job.inflight;
    this.batch = job.inflight >> 1;
    this.headerBytes = job.payloadBytes < 126 ? 2 : 4;
    this.frameBytes = this.headerBytes + job.payloadBytes;
    this.ring = Buffer.alloc(this.window * this.frameBytes);
    this.sentAt = new Float64Array(this.window);
    this.got = new Uint32Array(this.window);
    // ASCII fillers: the messages go out as text, so they must be valid UTF-8.
    this.fillers = Array.from({ length: FILLERS }, (_, v) => makePayload(job.payloadBytes - SEQ_DIGITS - 1, 'ascii', 1000 + v));
    this.failed = new Promise<never>((_, reject) => {
      this.failure = reject;
    });
    this.failed.catch(() => {});
  }

  abort(err: unknown): void {
    if (this.isFailed) return;
    this.isFailed = true;
    this.failure!(err);
  }

  get aborted(): boolean {
    return this.isFailed;
  }

  start(publisher: Socket): void {
    this.publisher = publisher;
    this.publish(this.batch);
  }

  /** The payload of message `seq`, which must be in flight. */
  payload(seq: number): Buffer {
    const at = (seq % this.window) * this.frameBytes + this.headerBytes;
    return this.ring.subarray(at, at + this.job.payloadBytes);
  }

  /** Frames `n` new messages into the ring and writes them, masked, in one write. */
  private publish(n: number): void {
    const size = this.job.payloadBytes;
    const head = this.headerBytes;
    const clientFrame = head + 4 + size;
    const out = Buffer.allocUnsafe(n * clientFrame);
    const now = performance.now();
    this.batchStart = this.sent;
    this.batchSeen = false;
    let at = 0;
    for (let k = 0; k < n; k++) {
      const seq = this.sent++;
      const slot = seq % this.window;
      // The server frame every subscriber must receive: header, then the payload.
      const frame = slot * this.frameBytes;
      const ring = this.ring;
      ring[frame] = 0x80 | OP_TEXT;
      if (head === 2) {
        ring[frame + 1] = size;
      } else {
        ring[frame + 1] = 126;
        ring.writeUInt16BE(size, frame + 2);
      }
      const p = frame + head;
      ring.write(String(seq).padStart(SEQ_DIGITS, '0'), p, 'latin1');
      ring[p + SEQ_DIGITS] = 0x20;
      this.fillers[seq % FILLERS]!.copy(ring, p + SEQ_DIGITS + 1);
      this.sentAt[slot] = now;
      // The client frame: the same with the mask bit, a key, and the payload masked.
      ring.copy(out, at, frame, frame + head);
      out[at + 1] = out[at + 1]! | 0x80;
      const key = this.keys();
      out.writeUInt32BE(key, at + head);
      ring.copy(out, at + head + 4, p, p + size);
      xorMask(out, at + head + 4, at + clientFrame, key >>> 24, (key >>> 16) & 0xff, (key >>> 8) & 0xff, key & 0xff, 0);
      at += clientFrame;
    }
    this.publisherWrites++;
    this.publisher!.write(out);
  }

  /** A subscriber has messages `from` … `to`-1, verified, all read at `now`. */
  arrived(from: number, to: number, now: number): void {
    const measuring = this.phase === Phase.Measure;
    let latency = -1;
    let same = 0;
    for (let seq = from; seq < to; seq++) {
      const slot = seq % this.window;
      if (measuring) {
        // A batch's messages share their send time: one histogram entry per run of equal latencies.
        const l = now - this.sentAt[slot]!;
        if (l !== latency) {
          if (same > 0) this.hist.record(latency, same);
          latency = l;
          same = 0;
        }
        same++;
      }
      const got = ++this.got[slot]!;
      if (got === 1 && seq === this.batchStart) this.batchSeen = true;
      if (got < this.subscribers) continue;
      if (seq !== this.completed) fail(`message #${seq} reached every subscriber before message #${this.completed} did`);
      this.got[slot] = 0;
      this.completed++;
    }
    if (same > 0) this.hist.record(latency, same);
    this.delivered += to - from;
  }

  /** After a subscriber's chunk: publish the next batch if it is due, or see whether the drain is over. */
  settle(): void {
    if (this.phase !== Phase.Drain) {
      if (this.batchSeen && this.sent + this.batch <= this.completed + this.window) this.publish(this.batch);
    } else if (this.completed === this.sent && this.drainWaiter) {
      const w = this.drainWaiter;
      this.drainWaiter = undefined;
      w();
    }
  }

  drained(timeoutMs: number, subs: Subscriber[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const behind = subs.map((s, i) => (s.next === this.sent ? '' : `#${i}: ${s.next}/${this.sent}`)).filter(Boolean);
        reject(
          new BenchError(
            `deliveries missing ${timeoutMs} ms after the last publish (received/sent), ${behind.length} subscribers behind: ${behind.slice(0, 8).join(', ')}`,
          ),
        );
      }, timeoutMs);
      this.drainWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
      this.settle();
    });
  }
}

/** What every subscriber socket reads into: each read is checked before the next one can happen. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/** One subscriber connection: checks every byte it receives. */
class Subscriber implements HeaderReader {
  socket: Socket | undefined;
  /** Number of the next message this subscriber must complete. */
  next = 0;
  /** Bytes received of the expected stream (the frames of messages 0, 1, 2, …), while in step with it. */
  private pos = 0;
  private inStep = true;

  // Frame-by-frame decoder, once out of step.
  readonly hdr = Buffer.alloc(14);
  hdrLen = 0;
  private inFrame = false;
  private remaining = 0;
  private frameFin = false;
  private frameControl = false;
  private inMessage = false;
  /** Payload bytes of the current message compared so far. */
  private msgOff = 0;

  constructor(
    private readonly run: Run,
    private readonly id: number,
  ) {}

  /** Connects; the handshake must be followed by nothing until the first message. */
  async open(port: number, request: Buffer): Promise<void> {
    const { socket, hs } = await openReader(port, request, READ_BUFFER, (buf, length) => this.onRead(buf, length));
    if (hs.rest.length > 0) fail(`subscriber #${this.id}: data before the first message`);
    this.socket = socket;
    socket.on('error', (err) => this.lost(`socket error ${err.message}`));
    socket.on('close', () => this.lost('server closed the connection'));
  }

  private lost(why: string): void {
    if (this.run.phase === Phase.Drain && this.next === this.run.sent) return;
    this.run.abort(new BenchError(`subscriber #${this.id}: ${why} after ${this.next} of ${this.run.sent} messages`));
  }

  private onRead(buf: Buffer, length: number): void {
    const run = this.run;
    if (run.aborted) return;
    if (run.phase === Phase.Measure) run.subscriberReads++;
    try {
      const now = performance.now();
      if (!this.inStep || !this.matches(buf, length)) this.decode(buf.subarray(0, length), now);
      else {
        this.pos += length;
        const next = Math.floor(this.pos / run.frameBytes);
        if (next > this.next) {
          run.arrived(this.next, next, now);
          this.next = next;
        }
      }
      run.settle();
    } catch (err) {
      run.abort(err);
    }
  }

  /** Whether `chunk[0, len)` is exactly the next bytes of the expected stream. */
  private matches(chunk: Buffer, len: number): boolean {
    const run = this.run;
    if (this.pos + len > run.sent * run.frameBytes) return false;
    const ring = run.ring;
    const at = this.pos % ring.length;
    const first = Math.min(len, ring.length - at);
    if (ring.compare(chunk, 0, first, at, at + first) !== 0) return false;
    return first === len || ring.compare(chunk, first, len, 0, len - first) === 0;
  }

  /** Leaves the fast path for good: sets the decoder up at the current position. */
  private leaveStep(): void {
    this.inStep = false;
    const run = this.run;
    const within = this.pos - this.next * run.frameBytes;
    if (within === 0) return;
    if (within < run.headerBytes) {
      const frame = (this.next % run.window) * run.frameBytes;
      run.ring.copy(this.hdr, 0, frame, frame + within);
      this.hdrLen = within;
      return;
    }
    this.inFrame = true;
    this.inMessage = true;
    this.frameFin = true;
    this.frameControl = false;
    this.remaining = run.frameBytes - within;
    this.msgOff = within - run.headerBytes;
  }

  private decode(chunk: Buffer, now: number): void {
    if (this.inStep) this.leaveStep();
    const run = this.run;
    const len = chunk.length;
    let i = 0;
    while (i < len) {
      if (!this.inFrame) {
        const at = readHeader(this, chunk, i, len);
        if (at < 0) return;
        i = at;
      }
      const n = Math.min(this.remaining, len - i);
      if (!this.frameControl && n > 0) {
        if (this.next >= run.sent) this.bad(chunk, i, 'a message that was never published');
        const expected = run.payload(this.next);
        if (this.msgOff + n > expected.length) this.bad(chunk, i, `a message longer than the ${expected.length} bytes published`);
        if (expected.compare(chunk, i, i + n, this.msgOff, this.msgOff + n) !== 0)
          this.bad(chunk, i, 'a message that differs from the one published');
        this.msgOff += n;
      }
      i += n;
      this.remaining -= n;
      if (this.remaining > 0) return;
      this.inFrame = false;
      if (this.frameControl || !this.frameFin) continue;
      if (this.msgOff !== run.job.payloadBytes) this.bad(null, 0, `a message of ${this.msgOff} bytes, published ${run.job.payloadBytes}`);
      this.inMessage = false;
      this.msgOff = 0;
      run.arrived(this.next, this.next + 1, now);
      this.next++;
    }
  }

  /** Parses a server frame header at buf[at]; returns its size, or 0 if incomplete. */
  header(buf: Buffer, at: number, end: number): number {
    if (end - at < 2) return 0;
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    const len7 = b1 & 0x7f;
    const size = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
    if (end - at < size) return 0;
    if (b1 & 0x80) this.bad(null, 0, 'a masked frame');
    if ((b0 & 0x70) !== 0) this.bad(null, 0, 'a frame with RSV bits set');
    const opcode = b0 & 0x0f;
    this.inFrame = true;
    this.remaining =
      len7 < 126 ? len7 : len7 === 126 ? buf.readUInt16BE(at + 2) : buf.readUInt32BE(at + 2) * 0x100000000 + buf.readUInt32BE(at + 6);
    this.frameFin = (b0 & 0x80) !== 0;
    this.frameControl = opcode >= 0x8;
    if (opcode === OP_CLOSE) this.bad(null, 0, 'a close frame');
    else if (opcode >= 0x8) {
      // Pings and pongs are no deliveries; skip them.
    } else if (opcode === OP_TEXT) {
      if (this.inMessage) this.bad(null, 0, 'a new message before the previous one finished');
      this.inMessage = true;
      this.msgOff = 0;
    } else if (opcode !== 0) {
      this.bad(null, 0, `a frame with opcode ${opcode}, published text`);
    } else if (!this.inMessage) {
      this.bad(null, 0, 'a continuation frame outside a message');
    }
    return size;
  }

  /** Fails the run, naming the message that arrived instead when its number is readable. */
  private bad(chunk: Buffer | null, at: number, what: string): never {
    let got = '';
    if (chunk && this.msgOff === 0 && chunk.length - at >= SEQ_DIGITS) {
      const digits = chunk.toString('latin1', at, at + SEQ_DIGITS);
      if (/^\d+$/.test(digits)) {
        const seq = Number(digits);
        got =
          seq < this.next
            ? ` (message #${seq} again)`
            : seq > this.next
              ? ` (message #${seq}: #${this.next}–#${seq - 1} lost or reordered)`
              : '';
      }
    }
    fail(`subscriber #${this.id}, expecting message #${this.next}: got ${what}${got}`);
  }
}

/** Connects the subscribers, `concurrency` handshakes at a time; any failure fails the run. */
async function openAll(subs: Subscriber[], port: number, concurrency: number): Promise<void> {
  const request = handshakeRequest(port, false, '/sub');
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < subs.length) await subs[started++]!.open(port, request);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, subs.length) }, worker));
}

export async function runBroadcast(job: BroadcastJob, hooks: BroadcastHooks): Promise<BroadcastResult> {
  const run = new Run(job, job.subscribers);
  const subs = Array.from({ length: job.subscribers }, (_, i) => new Subscriber(run, i));
  try {
    await openAll(subs, job.port, job.concurrency);
  } catch (err) {
    for (const s of subs) s.socket?.destroy();
    throw err;
  }
  // The publisher connects last, so every subscriber is in place before the first message.
  const { socket: publisher, hs } = await openSocket(job.port, false, handshakeRequest(job.port, false, '/pub'));
  if (hs.rest.length > 0) fail('publisher: data after the handshake');
  publisher.on('data', () =>
    run.abort(new BenchError('the publisher received a frame: a published message must not come back to its sender')),
  );
  publisher.on('error', (err) => run.abort(new BenchError(`publisher: socket error ${err.message}`)));
  publisher.on('close', () => {
    if (run.phase !== Phase.Drain) run.abort(new BenchError('publisher: the server closed the connection'));
  });

  try {
    run.start(publisher);
    await Promise.race([sleep(job.warmupMs), run.failed]);
    run.phase = Phase.Measure;
    hooks.mark('measure-start');
    const start = {
      delivered: run.delivered,
      sent: run.sent,
      writes: run.publisherWrites,
      cpu: process.cpuUsage(),
      elu: performance.eventLoopUtilization(),
    };
    const t0 = performance.now();
    await Promise.race([sleep(job.durationMs), run.failed]);
    run.phase = Phase.Drain;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(start.cpu);
    const elu = performance.eventLoopUtilization(start.elu);
    const deliveries = run.delivered - start.delivered;
    const published = run.sent - start.sent;
    const writes = run.publisherWrites - start.writes;
    hooks.mark('measure-end');
    await Promise.race([run.drained(Math.max(15_000, job.durationMs), subs), run.failed]);
    for (const [i, s] of subs.entries()) if (s.next !== run.sent) fail(`subscriber #${i} received ${s.next} of ${run.sent} messages`);

    return {
      kind: 'broadcast',
      negotiated: true,
      extensions: '',
      messages: deliveries,
      published,
      seconds,
      msgsPerSec: deliveries / seconds,
      mbPerSec: (deliveries * job.payloadBytes) / seconds / 1e6,
      p50Ms: run.hist.quantile(0.5),
      p99Ms: run.hist.quantile(0.99),
      genCpu: (cpu.user + cpu.system) / 1e6 / seconds,
      genBusy: elu.utilization,
      verified: run.delivered,
      msgsPerWrite: published / Math.max(1, writes),
      msgsPerRead: deliveries / Math.max(1, run.subscriberReads),
    };
  } finally {
    publisher.destroy();
    for (const s of subs) s.socket!.destroy();
  }
}
