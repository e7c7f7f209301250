/**
 * The load generator, a process of its own (pinned to its own core by the orchestrator). It is
 * built to cost as little per message as possible so that the server is what gets measured:
 *
 * - raw node:net sockets, handshake written by hand;
 * - every client frame is built and masked once, up front; sending is one `write` of a slice of a
 *   prepared ring of frames, however many messages it carries;
 * - pipelining: each connection keeps `inflight` messages outstanding and tops up once per
 *   received chunk, so syscalls are amortised over many messages;
 * - replies are decoded in place, without copies, and compared byte for byte (payload, length,
 *   opcode) against what was sent: any difference aborts the run.
 *
 * Echo and idle runs are here; broadcast runs are in loadgen-broadcast.ts, the HTTP/2 group's
 * transports and open run in loadgen-h2.ts.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import * as zlib from 'node:zlib';
import { Histogram } from './histogram.js';
import { makePayload, prng } from './payloads.js';
import type { EchoJob, EchoResult, FromGenerator, IdleJob, IdleResult, Job, ToGenerator } from './protocol.js';
import { BenchError, fail, openSocket, sleep } from './handshake.js';
import { runBroadcast } from './loadgen-broadcast.js';
import { runH2Open, type WebSocketTransport, webSocketTransport } from './loadgen-h2.js';
import { DEFLATE_TAIL, handshakeRequest, maskedFrame, OP_BINARY, OP_CLOSE, OP_TEXT, readHeader, type HeaderReader } from './wire.js';

function post(msg: FromGenerator): void {
  process.send!(msg);
}

// ---------------------------------------------------------------------------------------------
// Echo runs

/** Everything about the messages of one run, prepared before the first byte is sent. */
interface Shape {
  opcode: number;
  /** Expected reply payloads; message number n carries variant n % variants.length. */
  expected: Buffer[];
  /** Consecutive client frames, variant 0, 1, …, repeated: any run of `inflight` frames starting at a variant index is one slice. */
  ring: Buffer;
  /** Byte offset of each frame in the ring. */
  offsets: number[];
  deflate: boolean;
  /** Deflate windows by the variants of the compressed messages before, see {@link Conn.inflate}. */
  windows: Map<string, Buffer>;
}

/** The deflate window (2^15 bytes): how far back a server's compressor can refer. */
const WINDOW = 32 * 1024;

function prepare(job: EchoJob): Shape {
  // Compressible text gets enough distinct messages that a server keeping its compression
  // context cannot find the whole message again in its window, as with real traffic; otherwise
  // it would be compressing exact repeats.
  const variants = job.deflate ? Math.max(4, Math.ceil((2 * WINDOW) / job.payloadBytes)) : Math.min(4, job.inflight);
  const opcode = job.binary ? OP_BINARY : OP_TEXT;
  const expected: Buffer[] = [];
  const frames: Buffer[] = [];
  const keys = prng(0xfeed);
  for (let v = 0; v < variants; v++) {
    const payload = makePayload(job.payloadBytes, job.content, v);
    expected.push(payload);
    if (job.deflate) {
      // client_no_context_takeover: every message is compressed on its own, so it can be
      // compressed once here and sent any number of times.
      const deflated = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      if (!deflated.subarray(-4).equals(DEFLATE_TAIL)) fail('deflate output does not end in 00 00 ff ff');
      frames.push(maskedFrame(opcode, deflated.subarray(0, -4), true, keys()));
    } else {
      frames.push(maskedFrame(opcode, payload, false, keys()));
    }
  }
  // Long enough that `inflight` frames starting at any variant index are contiguous.
  const count = Math.ceil((job.inflight + variants) / variants) * variants;
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    offsets.push(at);
    parts.push(frames[i % variants]!);
    at += frames[i % variants]!.length;
  }
  offsets.push(at);
  return { opcode, expected, ring: Buffer.concat(parts), offsets, deflate: job.deflate, windows: new Map() };
}

const enum Phase {
  Warmup,
  Measure,
  Drain,
}

class Run {
  phase = Phase.Warmup;
  completed = 0;
  /** Socket writes and reads carrying frames: how well the batching amortises syscalls. */
  writes = 0;
  reads = 0;
  readonly hist = new Histogram();
  conns: Conn[] = [];
  private drainWaiter: (() => void) | null = null;

  constructor(
    readonly job: EchoJob,
    readonly shape: Shape,
  ) {}

  connDrained(): void {
    if (this.drainWaiter && this.conns.every((c) => c.received === c.sent)) {
      const w = this.drainWaiter;
      this.drainWaiter = null;
      w();
    }
  }

  drained(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const behind = this.conns
          .map((c, i) => (c.received === c.sent ? '' : `#${i}: ${c.received}/${c.sent}`))
          .filter(Boolean)
          .slice(0, 8);
        reject(new BenchError(`echoes missing ${timeoutMs} ms after the last send (echoed/sent): ${behind.join(', ')}`));
      }, timeoutMs);
      this.drainWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
      this.connDrained();
    });
  }
}

class Conn implements HeaderReader {
  sent = 0;
  received = 0;
  private readonly times: Float64Array;
  /** Variants of the last compressed replies, oldest first: what the server's window holds. */
  private history: number[] = [];

  // Frame decoder state.
  readonly hdr = Buffer.alloc(14);
  hdrLen = 0;
  private inFrame = false;
  private remaining = 0;
  private frameFin = false;
  private frameControl = false;
  /** Opcode of the message being received, or -1 between messages. */
  private msgOpcode = -1;
  private msgCompressed = false;
  /** Payload bytes of the current message compared so far. */
  private msgOff = 0;
  private pieces: Buffer[] = [];

  constructor(
    private readonly run: Run,
    private readonly id: number,
    /** A TCP or TLS socket, or an HTTP/2 stream: frames travel the same way on each. */
    readonly socket: Duplex,
  ) {
    this.times = new Float64Array(run.job.inflight);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.lost(`socket error ${err.message}`));
    socket.on('close', () => this.lost('server closed the connection'));
  }

  private lost(why: string): void {
    if (this.run.phase === Phase.Drain && this.received === this.sent) return;
    report(new BenchError(`connection #${this.id}: ${why} after ${this.received} of ${this.sent} echoes`));
  }

  send(n: number): void {
    const shape = this.shape();
    const variants = shape.expected.length;
    const first = this.sent % variants;
    const now = performance.now();
    const slots = this.times.length;
    for (let k = 0; k < n; k++) this.times[(this.sent + k) % slots] = now;
    this.sent += n;
    this.run.writes++;
    this.socket.write(shape.ring.subarray(shape.offsets[first]!, shape.offsets[first + n]!));
  }

  private shape(): Shape {
    return this.run.shape;
  }

  onData(chunk: Buffer): void {
    if (failed) return;
    try {
      this.decode(chunk);
    } catch (err) {
      report(err);
    }
  }

  private decode(chunk: Buffer): void {
    const run = this.run;
    run.reads++;
    const measuring = run.phase === Phase.Measure;
    const now = performance.now();
    const len = chunk.length;
    let i = 0;
    let done = 0;
    while (i < len) {
      if (!this.inFrame) {
        const at = readHeader(this, chunk, i, len);
        if (at < 0) break;
        i = at;
      }
      const n = Math.min(this.remaining, len - i);
      if (!this.frameControl && n > 0) {
        if (this.msgCompressed) {
          this.pieces.push(chunk.subarray(i, i + n));
        } else {
          const expected = this.shape().expected[this.received % this.shape().expected.length]!;
          if (this.msgOff + n > expected.length) this.bad(`echo longer than the ${expected.length} bytes sent`);
          if (expected.compare(chunk, i, i + n, this.msgOff, this.msgOff + n) !== 0) this.bad('echo payload differs from what was sent');
        }
        this.msgOff += n;
      }
      i += n;
      this.remaining -= n;
      if (this.remaining > 0) break;
      this.inFrame = false;
      if (this.frameControl || !this.frameFin) continue;

      this.complete();
      if (measuring) run.hist.record(now - this.times[this.received % this.times.length]!);
      this.received++;
      done++;
    }
    if (done === 0) return;
    run.completed += done;
    if (run.phase !== Phase.Drain) this.send(done);
    else if (this.received === this.sent) run.connDrained();
  }

  /** Parses a server frame header at buf[at]; returns its size, or 0 if incomplete. */
  header(buf: Buffer, at: number, end: number): number {
    if (end - at < 2) return 0;
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    const len7 = b1 & 0x7f;
    const size = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
    if (end - at < size) return 0;
    if (b1 & 0x80) this.bad('server frame is masked');
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    if ((b0 & 0x30) !== 0) this.bad('RSV2/RSV3 set');
    const length =
      len7 < 126 ? len7 : len7 === 126 ? buf.readUInt16BE(at + 2) : buf.readUInt32BE(at + 2) * 0x100000000 + buf.readUInt32BE(at + 6);
    this.inFrame = true;
    this.remaining = length;
    this.frameFin = fin;
    this.frameControl = opcode >= 0x8;
    if (opcode === OP_CLOSE) {
      this.bad(`server sent a close frame (code ${length >= 2 && end - at >= size + 2 ? buf.readUInt16BE(at + size) : 'in next chunk'})`);
    } else if (opcode >= 0x8) {
      // Pings and pongs carry no echo; skip them.
    } else if (opcode !== 0) {
      if (this.msgOpcode !== -1) this.bad('new message started before the previous one finished');
      if (opcode !== this.shape().opcode) {
        this.bad(
          `echo is ${opcode === OP_TEXT ? 'text' : opcode === OP_BINARY ? 'binary' : `opcode ${opcode}`}, sent ${this.shape().opcode === OP_TEXT ? 'text' : 'binary'}`,
        );
      }
      if (rsv1 && !this.shape().deflate) this.bad('RSV1 set without permessage-deflate');
      this.msgOpcode = opcode;
      this.msgCompressed = rsv1;
      this.msgOff = 0;
    } else if (this.msgOpcode === -1) {
      this.bad('continuation frame outside a message');
    }
    return size;
  }

  /** The last frame of a message arrived: check what the decoder could not check piecewise. */
  private complete(): void {
    const expected = this.shape().expected[this.received % this.shape().expected.length]!;
    if (this.msgCompressed) {
      this.pieces.push(DEFLATE_TAIL);
      const input = Buffer.concat(this.pieces);
      this.pieces = [];
      const out = this.inflate(input);
      if (!out.equals(expected)) this.bad(`inflated echo (${out.length} bytes) differs from what was sent (${expected.length} bytes)`);
      this.history.push(this.received % this.shape().expected.length);
      if (this.history.length * expected.length > WINDOW + expected.length) this.history.shift();
    } else if (this.msgOff !== expected.length) {
      this.bad(`echo is ${this.msgOff} bytes, sent ${expected.length}`);
    }
    this.msgOpcode = -1;
    this.msgCompressed = false;
    this.msgOff = 0;
  }

  /**
   * Inflates one reply. A server that keeps its compression context (no
   * server_no_context_takeover) may refer back into the plaintext of its earlier messages, up to
   * 32 KiB. Those messages were all verified, so that plaintext is known: handing its last 32 KiB
   * to a fresh raw inflater as the preset dictionary decodes exactly what a long-lived inflater
   * would, with zlib's public synchronous API. When the server resets its context the dictionary
   * is simply never referred to.
   */
  private inflate(input: Buffer): Buffer {
    const shape = this.shape();
    const options: zlib.ZlibOptions = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
    if (this.history.length > 0) {
      const key = this.history.join(',');
      let window = shape.windows.get(key);
      if (!window) {
        const all = Buffer.concat(this.history.map((v) => shape.expected[v]!));
        window = all.length > WINDOW ? all.subarray(all.length - WINDOW) : all;
        shape.windows.set(key, window);
      }
      options.dictionary = window;
    }
    try {
      return zlib.inflateRawSync(input, options);
    } catch (err) {
      this.bad(`reply does not inflate: ${(err as Error).message}`);
    }
  }

  private bad(what: string): never {
    fail(`connection #${this.id}, echo ${this.received + 1}: ${what}`);
  }
}

async function runEcho(job: EchoJob): Promise<EchoResult> {
  const shape = prepare(job);
  const run = new Run(job, shape);
  const transport = await webSocketTransport(job.port, job.deflate, job.transport, report);
  try {
    return await echo(job, run, transport.open);
  } finally {
    transport.close();
  }
}

async function echo(job: EchoJob, run: Run, open: WebSocketTransport['open']): Promise<EchoResult> {
  const opened = await Promise.all(Array.from({ length: job.connections }, open));
  const extensions = opened[0]!.hs.extensions;
  const negotiated = /permessage-deflate/i.test(extensions);
  const result: EchoResult = {
    kind: 'echo',
    negotiated: !job.deflate || negotiated,
    extensions,
    messages: 0,
    seconds: 0,
    msgsPerSec: 0,
    mbPerSec: 0,
    p50Ms: 0,
    p99Ms: 0,
    genCpu: 0,
    genBusy: 0,
    verified: 0,
    msgsPerWrite: 0,
    msgsPerRead: 0,
  };
  if (job.deflate && !negotiated) {
    // Nothing to measure: the server would be compared on uncompressed echoes.
    for (const { socket } of opened) socket.destroy();
    return result;
  }
  run.conns = opened.map(({ socket }, i) => new Conn(run, i, socket));
  for (let i = 0; i < opened.length; i++) {
    if (opened[i]!.hs.rest.length > 0) fail(`connection #${i}: data before the first message`);
    run.conns[i]!.send(job.inflight);
  }

  await sleep(job.warmupMs);
  run.phase = Phase.Measure;
  post({ type: 'mark', phase: 'measure-start' });
  const startCount = run.completed;
  const startWrites = run.writes;
  const startReads = run.reads;
  const startCpu = process.cpuUsage();
  const startElu = performance.eventLoopUtilization();
  const t0 = performance.now();
  await sleep(job.durationMs);
  run.phase = Phase.Drain;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(startCpu);
  const elu = performance.eventLoopUtilization(startElu);
  const messages = run.completed - startCount;
  const writes = run.writes - startWrites;
  const reads = run.reads - startReads;
  post({ type: 'mark', phase: 'measure-end' });

  await run.drained(Math.max(15_000, job.durationMs));
  for (const c of run.conns) c.socket.destroy();

  result.messages = messages;
  result.seconds = elapsed;
  result.msgsPerSec = messages / elapsed;
  result.mbPerSec = (messages * job.payloadBytes) / elapsed / 1e6;
  result.p50Ms = run.hist.quantile(0.5);
  result.p99Ms = run.hist.quantile(0.99);
  result.genCpu = (cpu.user + cpu.system) / 1e6 / elapsed;
  result.genBusy = elu.utilization;
  result.verified = run.completed;
  result.msgsPerWrite = messages / Math.max(1, writes);
  result.msgsPerRead = messages / Math.max(1, reads);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Idle runs

let releaseIdle: (() => void) | null = null;

async function runIdle(job: IdleJob): Promise<IdleResult> {
  const request = handshakeRequest(job.port, false);
  const sockets: Socket[] = [];
  let started = 0;
  let pending = 0;
  let shortfall: string | undefined;
  const t0 = performance.now();
  let acceptMs = 0;

  await new Promise<void>((resolve) => {
    const next = (): void => {
      while (!shortfall && pending < job.concurrency && started < job.connections) {
        started++;
        pending++;
        openSocket(job.port, false, request).then(
          ({ socket }) => {
            pending--;
            sockets.push(socket);
            // The held connections must stay quiet; anything arriving is a server fault.
            socket.on('data', () => report(new BenchError('data on an idle connection')));
            socket.on('error', () => {});
            acceptMs = performance.now() - t0;
            next();
          },
          (err: NodeJS.ErrnoException) => {
            pending--;
            // The OS said no (descriptor or port limits): keep what is open and say so.
            shortfall ??= `${err.code ?? 'error'} after ${sockets.length} connections: ${err.message}`;
            next();
          },
        );
      }
      if (pending === 0 && (shortfall || sockets.length === job.connections)) resolve();
    };
    next();
  });

  post({ type: 'idle-open', opened: sockets.length, acceptMs, ...(shortfall ? { shortfall } : {}) });
  await new Promise<void>((resolve) => {
    releaseIdle = resolve;
  });
  for (const s of sockets) s.destroy();
  return { kind: 'idle', opened: sockets.length, acceptMs, ...(shortfall ? { shortfall } : {}) };
}

// ---------------------------------------------------------------------------------------------

let failed = false;

/** Reports the first failure to the orchestrator, which aborts the bench, and ends this process. */
function report(err: unknown): void {
  if (failed) return;
  failed = true;
  const message = err instanceof BenchError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  post({ type: 'error', message });
  process.exitCode = 1;
  // Give the IPC message a moment to leave before the process goes.
  setTimeout(() => process.exit(1), 200);
}

async function runJob(job: Job): Promise<void> {
  try {
    const result =
      job.kind === 'echo'
        ? await runEcho(job)
        : job.kind === 'broadcast'
          ? await runBroadcast(job, { mark: (phase) => post({ type: 'mark', phase }) })
          : job.kind === 'h2-open'
            ? await runH2Open(
                job,
                (opened, acceptMs, shortfall) => post({ type: 'idle-open', opened, acceptMs, ...(shortfall ? { shortfall } : {}) }),
                () => new Promise<void>((resolve) => (releaseIdle = resolve)),
                report,
              )
            : await runIdle(job);
    if (!failed) post({ type: 'result', result });
  } catch (err) {
    report(err);
  }
}

if (!process.send) throw new Error('the generator is started by the bench orchestrator (it takes jobs over IPC)');
process.on('message', (msg: ToGenerator) => {
  if (msg.type === 'run') void runJob(msg.job);
  else if (msg.type === 'release') releaseIdle?.();
  else if (msg.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
post({ type: 'ready' });
