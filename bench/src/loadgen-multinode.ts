/**
 * The load generator of the multinode group, a process of its own (one per run), talking to the
 * orchestrator (src/multinode.ts) over IPC. It publishes and subscribes in one process, so the
 * publish timestamp in each message and the receipt time are read from the same clock.
 *
 * Layout. Subscriber i connects to node i % 3 and subscribes to topic ⌊i / 3⌋ % topics;
 * publisher j connects to node j % 3 and publishes to topic ⌊j / 3⌋ % topics. With 3 × 100
 * subscribers, 3 × 3 publishers and 3 topics every node has about 33 subscribers and one
 * publisher of every topic, and a message has 100 deliveries, a third of them on the publisher's
 * node and two thirds through the broker.
 *
 * Systems:
 * - `wsup` and `socketio`: the subscribers and publishers are WebSockets to the three server
 *   processes, raw sockets whose frames are read in place (for Socket.IO, its Engine.IO packets
 *   over the WebSocket transport, as socket.io-client with `transports: ['websocket']` sends them);
 * - `raw`: the broker alone, through its own client. Three subscribing connections stand for the
 *   three nodes, each subscribed to every topic; a message reaching connection k counts as many
 *   deliveries (and latency samples) as node k has subscribers of its topic. Three publishing
 *   connections stand for the nodes' publishers. This is the most the broker itself can carry
 *   for this fan-out, with nothing of a WebSocket server in the way.
 *
 * Load. Each publisher has at most `window` messages published and not yet delivered to every
 * subscriber of its topic, and publishes the next one as soon as one completes: a closed loop at
 * the system's own pace with bounded queues everywhere, as in the broadcast scenario. Latency is
 * from the publish timestamp written into the message to its receipt, for every delivery.
 *
 * Message: ASCII text, `payloadBytes` long: a flag (`m` measured, `p` probe), the publisher's
 * number (3 digits), its sequence number (10), the publish time in µs of performance.now() (15),
 * then filler. Each subscriber must receive each publisher's messages in order, none lost or
 * repeated (the sequence numbers are checked); a violation fails the run.
 *
 * Readiness. Subscriptions through a broker take effect asynchronously, so before anything is
 * measured every publisher sends probes until every subscriber has received one from every
 * publisher of its topic: from then on each publisher's messages reach every subscriber (each
 * publisher's messages arrive in order, so nothing published after a probe can overtake it).
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BenchError, openReader, openSocket, sleep } from './handshake.js';
import { Histogram } from './histogram.js';
import type { BrokerAddress, BrokerName } from './multinode-brokers.js';
import { handshakeRequest, maskedFrame, OP_CLOSE, OP_TEXT } from './wire.js';

export type SystemKind = 'wsup' | 'socketio' | 'raw';

export interface MultinodeJob {
  system: SystemKind;
  broker: BrokerName;
  address: BrokerAddress;
  /** The three nodes' ports (not for `raw`). */
  ports: number[];
  nodes: number;
  subscribersPerNode: number;
  publishersPerNode: number;
  topics: number;
  window: number;
  payloadBytes: number;
  /** Handshakes in progress at once. */
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export interface MultinodeResult {
  deliveriesPerSec: number;
  messagesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  deliveries: number;
  genCpu: number;
  genBusy: number;
  /** Deliveries per read (per chunk or per client event). */
  deliveriesPerRead: number;
}

export type ToMultinodeGen = { type: 'run'; job: MultinodeJob } | { type: 'exit' };
export type FromMultinodeGen =
  | { type: 'ready' }
  | { type: 'mark'; phase: 'measure-start' | 'measure-end' }
  | { type: 'result'; result: MultinodeResult }
  | { type: 'error'; message: string };

const FLAG = 0;
const PUB = 1;
const SEQ = 4;
const TS = 14;
const HEAD = 29;
const CH_M = 0x6d; // 'm'
const CH_P = 0x70; // 'p'

const enum Phase {
  Probe,
  Warmup,
  Measure,
  Drain,
}

function digits(buf: Buffer, at: number, n: number, value: number): void {
  for (let i = at + n - 1; i >= at; i--) {
    buf[i] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  }
}

function readDigits(buf: Buffer, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) v = v * 10 + (buf[i]! - 0x30);
  return v;
}

/** What a publisher does with a message; what the harness knows of a subscriber. */
interface Publisher {
  topic: number;
  send(payload: Buffer): void;
  close(): void;
}

interface Subscriber {
  /** Topics it receives, each with the deliveries one arrival counts for. */
  weight: Int32Array;
  close(): void;
}

class Run {
  phase = Phase.Probe;
  readonly hist = new Histogram();
  readonly pubs: Publisher[] = [];
  readonly subs: Subscriber[] = [];
  /** Deliveries each message of a topic needs to complete. */
  readonly need: Int32Array;
  readonly sent: Int32Array;
  readonly completed: Int32Array;
  /** Deliveries so far of publisher p's message n, at got[p * window + n % window]. */
  readonly got: Int32Array;
  /** Next sequence number subscriber s expects from publisher p, at next[s * pubs + p]. */
  next!: Int32Array;
  /** Subscriber s has a probe from publisher p. */
  probed!: Uint8Array;
  probesMissing = 0;
  deliveries = 0;
  reads = 0;
  completedInWindow = 0;
  measureStart = 0;
  private readonly template: Buffer;
  private failure: ((err: Error) => void) | undefined;
  private drained: (() => void) | undefined;
  private probesSeen: (() => void) | undefined;
  readonly failed: Promise<never>;
  private isFailed = false;

  constructor(readonly job: MultinodeJob) {
    const np = job.nodes * job.publishersPerNode;
    this.need = new Int32Array(job.topics);
    for (let i = 0; i < job.nodes * job.subscribersPerNode; i++) this.need[this.topicOfSub(i)]!++;
    this.sent = new Int32Array(np);
    this.completed = new Int32Array(np);
    this.got = new Int32Array(np * job.window);
    this.template = Buffer.alloc(Math.max(HEAD, job.payloadBytes), 'x');
    this.failed = new Promise<never>((_, reject) => {
      this.failure = reject;
    });
    this.failed.catch(() => undefined);
  }

  topicOfSub(i: number): number {
    return Math.floor(i / this.job.nodes) % this.job.topics;
  }

  topicOfPub(j: number): number {
    return Math.floor(j / this.job.nodes) % this.job.topics;
  }

  /** Subscribers on node k of topic t. */
  local(k: number, t: number): number {
    let n = 0;
    for (let i = k; i < this.job.nodes * this.job.subscribersPerNode; i += this.job.nodes) if (this.topicOfSub(i) === t) n++;
    return n;
  }

  fail(message: string): void {
    if (this.isFailed) return;
    this.isFailed = true;
    this.failure!(new BenchError(message));
  }

  /** Call once every publisher and subscriber is in place. */
  armed(): void {
    const np = this.pubs.length;
    this.next = new Int32Array(this.subs.length * np);
    this.probed = new Uint8Array(this.subs.length * np);
    for (let s = 0; s < this.subs.length; s++)
      for (let p = 0; p < np; p++) if (this.subs[s]!.weight[this.pubs[p]!.topic]! > 0) this.probesMissing++;
  }

  payload(p: number, probe: boolean): Buffer {
    const b = Buffer.from(this.template);
    b[FLAG] = probe ? CH_P : CH_M;
    digits(b, PUB, 3, p);
    digits(b, SEQ, 10, probe ? 0 : this.sent[p]!);
    digits(b, TS, 15, Math.round(performance.now() * 1000));
    return b;
  }

  probeAll(): void {
    for (let p = 0; p < this.pubs.length; p++) this.pubs[p]!.send(this.payload(p, true));
  }

  waitProbes(): Promise<void> {
    if (this.probesMissing === 0) return Promise.resolve();
    return new Promise((resolve) => (this.probesSeen = resolve));
  }

  pump(p: number): void {
    if (this.phase === Phase.Probe || this.phase === Phase.Drain) return;
    const pub = this.pubs[p]!;
    while (this.sent[p]! - this.completed[p]! < this.job.window) {
      pub.send(this.payload(p, false));
      this.sent[p]!++;
    }
  }

  startLoad(): void {
    this.phase = Phase.Warmup;
    for (let p = 0; p < this.pubs.length; p++) this.pump(p);
  }

  /** One arrival at subscriber s: flag, publisher, sequence number, publish time (µs). */
  arrive(s: number, flag: number, p: number, seq: number, ts: number, now: number): void {
    const np = this.pubs.length;
    if (p >= np) {
      this.fail(`subscriber #${s}: message from publisher #${p}, which does not exist`);
      return;
    }
    const sub = this.subs[s]!;
    const topic = this.pubs[p]!.topic;
    const weight = sub.weight[topic]!;
    if (weight === 0) {
      this.fail(`subscriber #${s}: got a message of topic ${topic}, which it did not subscribe to`);
      return;
    }
    const at = s * np + p;
    if (flag === CH_P) {
      if (this.probed[at] === 0) {
        this.probed[at] = 1;
        if (--this.probesMissing === 0) this.probesSeen?.();
      }
      return;
    }
    if (flag !== CH_M) {
      this.fail(`subscriber #${s}: a message that is not the bench's (flag ${flag})`);
      return;
    }
    const expected = this.next[at]!;
    if (seq !== expected) {
      this.fail(
        `subscriber #${s}: expected message #${expected} of publisher #${p}, got #${seq}` +
          (seq > expected ? ` (#${expected}–#${seq - 1} lost or reordered)` : ' (repeated or reordered)'),
      );
      return;
    }
    this.next[at] = expected + 1;
    if (this.phase === Phase.Measure) {
      this.deliveries += weight;
      this.hist.record(now - ts / 1000, weight);
    }
    const slot = p * this.job.window + (seq % this.job.window);
    this.got[slot]! += weight;
    // Messages of one publisher complete in order: each subscriber receives them in order.
    let advanced = false;
    for (;;) {
      const c = this.completed[p]!;
      if (c >= this.sent[p]!) break;
      const cs = p * this.job.window + (c % this.job.window);
      if (this.got[cs]! < this.need[topic]!) break;
      this.got[cs] = 0;
      this.completed[p] = c + 1;
      if (this.phase === Phase.Measure) this.completedInWindow++;
      advanced = true;
    }
    if (!advanced) return;
    if (this.phase === Phase.Drain) {
      if (this.drained && this.allComplete()) this.drained();
    } else this.pump(p);
  }

  allComplete(): boolean {
    for (let p = 0; p < this.pubs.length; p++) if (this.completed[p] !== this.sent[p]) return false;
    return true;
  }

  drain(timeoutMs: number): Promise<void> {
    this.phase = Phase.Drain;
    if (this.allComplete()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = [...this.sent].reduce((a, n, p) => a + n - this.completed[p]!, 0);
        reject(
          new BenchError(`${missing} messages still not delivered to every subscriber ${timeoutMs / 1000} s after publishing stopped`),
        );
      }, timeoutMs);
      this.drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket subscribers and publishers (wsup): raw sockets, frames decoded in place.

/** One static read buffer for every subscriber socket (net's onread). */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const CARRY = 512;

/**
 * Socket.IO's wire format over its WebSocket transport (Engine.IO 4): every Engine.IO packet is a
 * text frame, `0{…}` the open packet (the client then connects to the namespace with `40`), `2`
 * a ping (answered `3`), and `42["event","arg"]` an event. The bench's messages are ASCII
 * without quotes or backslashes, so their JSON string is the message itself: `42["m","` and the
 * message follow each other at fixed offsets, and the generator reads Socket.IO's deliveries in
 * place as it reads wsup's, instead of paying for socket.io-client per delivery.
 */
const SIO_PATH = '/socket.io/?EIO=4&transport=websocket';
const SIO_EVENT = Buffer.from('42["m","', 'latin1');
const SIO_PUBLISH = Buffer.from('42["p","', 'latin1');
const SIO_END = Buffer.from('"]', 'latin1');

type Mode = 'wsup' | 'socketio';

function wsSubscriber(run: Run, s: number, port: number, topic: number, mode: Mode = 'wsup'): Promise<Subscriber> {
  const sio = mode === 'socketio';
  let sock: Socket | undefined;
  let key = (s + 7) * 0x9e3779b1;
  const reply = (text: string): void => {
    key = (key * 1103515245 + 12345) >>> 0;
    sock?.write(maskedFrame(OP_TEXT, Buffer.from(text, 'latin1'), false, key));
  };
  const carry = Buffer.allocUnsafe(CARRY);
  let carryLen = 0;
  /** Parses complete frames in data[i, end); returns where the first incomplete one starts. */
  const parse = (data: Buffer, i: number, end: number, now: number): number => {
    while (end - i >= 2) {
      const b0 = data[i]!;
      const b1 = data[i + 1]!;
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (end - i < 4) break;
        len = data.readUInt16BE(i + 2);
        head = 4;
      } else if (len === 127 || b1 & 0x80 || len + 4 > CARRY) {
        run.fail(`subscriber #${s}: unexpected frame header ${b0.toString(16)} ${b1.toString(16)}`);
        return end;
      }
      if (end - i < head + len) break;
      const op = b0 & 0x0f;
      const at = i + head;
      i = at + len;
      if (op === OP_TEXT && b0 & 0x80 && sio) {
        if (len >= SIO_EVENT.length + HEAD && data[at] === 0x34 && data[at + 1] === 0x32 && data[at + 4] === 0x6d) {
          const m = at + SIO_EVENT.length;
          run.arrive(s, data[m + FLAG]!, readDigits(data, m + PUB, 3), readDigits(data, m + SEQ, 10), readDigits(data, m + TS, 15), now);
        } else if (data[at] === 0x30) reply('40');
        else if (data[at] === 0x32 && len === 1) reply('3');
        else if (data[at] === 0x34 && (data[at + 1] === 0x31 || data[at + 1] === 0x34)) {
          run.fail(`subscriber #${s}: Socket.IO refused or ended the namespace connection (${data.toString('latin1', at, i)})`);
          return end;
        }
      } else if (op === OP_TEXT && b0 & 0x80) {
        if (len < HEAD) {
          run.fail(`subscriber #${s}: a ${len}-byte message, shorter than any the bench publishes`);
          return end;
        }
        run.arrive(s, data[at + FLAG]!, readDigits(data, at + PUB, 3), readDigits(data, at + SEQ, 10), readDigits(data, at + TS, 15), now);
      } else if (op === OP_CLOSE) {
        run.fail(`subscriber #${s}: the server closed the connection (${len >= 2 ? data.readUInt16BE(at) : 'no code'})`);
        return end;
      } else if (op !== 0x9 && op !== 0xa) {
        run.fail(`subscriber #${s}: unexpected frame (opcode ${op}, fin ${b0 >> 7})`);
        return end;
      }
    }
    return i;
  };
  const onRead = (buf: Buffer, len: number): void => {
    run.reads++;
    const now = performance.now();
    let i = 0;
    if (carryLen > 0) {
      const take = Math.min(len, CARRY - carryLen);
      buf.copy(carry, carryLen, 0, take);
      const total = carryLen + take;
      const stop = parse(carry, 0, total, now);
      if (stop === 0) {
        // Still inside the frame that began in the carry, with all of this read taken in.
        if (take < len) {
          run.fail(`subscriber #${s}: frame larger than ${CARRY} bytes`);
          return;
        }
        carryLen = total;
        return;
      }
      i = stop - carryLen;
      carryLen = 0;
    }
    const stop = parse(buf, i, len, now);
    if (stop < len) {
      buf.copy(carry, 0, stop, len);
      carryLen = len - stop;
    }
  };
  const weight = new Int32Array(run.job.topics);
  weight[topic] = 1;
  const path = sio ? `${SIO_PATH}&role=sub&t=t${topic}` : `/sub?t=t${topic}`;
  return openReader(port, handshakeRequest(port, false, path), READ_BUFFER, onRead).then(({ socket, hs }) => {
    sock = socket;
    if (hs.rest.length > 0) onRead(hs.rest, hs.rest.length);
    socket.on('error', (err) => run.fail(`subscriber #${s}: ${err.message}`));
    socket.on('close', () => run.phase !== Phase.Drain && run.fail(`subscriber #${s}: connection closed`));
    return { weight, close: () => socket.destroy() };
  });
}

function wsPublisher(run: Run, p: number, port: number, topic: number): Promise<Publisher> {
  return openSocket(port, false, handshakeRequest(port, false, `/pub?t=t${topic}`)).then(({ socket }) => {
    socket.on('data', () => run.fail(`publisher #${p}: the server sent something to a publisher`));
    socket.on('error', (err) => run.fail(`publisher #${p}: ${err.message}`));
    let key = (p + 1) * 0x9e3779b1;
    return {
      topic,
      send: (payload: Buffer) => {
        key = (key * 1103515245 + 12345) >>> 0;
        socket.write(maskedFrame(OP_TEXT, payload, false, key));
      },
      close: () => (socket as Socket).destroy(),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Socket.IO: Engine.IO packets over its WebSocket transport, read in place.

function sioSubscriber(run: Run, s: number, port: number, topic: number): Promise<Subscriber> {
  return wsSubscriber(run, s, port, topic, 'socketio');
}

/** A Socket.IO publisher: connects to the namespace, answers pings, emits `p` events. */
async function sioPublisher(run: Run, p: number, port: number, topic: number): Promise<Publisher> {
  const { socket, hs } = await openSocket(port, false, handshakeRequest(port, false, `${SIO_PATH}&role=pub&t=t${topic}`));
  let key = (p + 1) * 0x9e3779b1;
  const write = (payload: Buffer): void => {
    key = (key * 1103515245 + 12345) >>> 0;
    socket.write(maskedFrame(OP_TEXT, payload, false, key));
  };
  let pending = hs.rest;
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      // Small unmasked text frames only: the open packet, the namespace's answer, pings.
      while (pending.length >= 2) {
        const len = pending[1]! & 0x7f;
        const head = len === 126 ? 4 : 2;
        const size = len === 126 ? pending.readUInt16BE(2) : len;
        if (pending.length < head + size) break;
        const text = pending.toString('latin1', head, head + size);
        pending = pending.subarray(head + size);
        if (text.startsWith('0')) write(Buffer.from('40'));
        else if (text === '2') write(Buffer.from('3'));
        else if (text.startsWith('40')) resolve();
        else if (text.startsWith('44') || text.startsWith('41')) reject(new BenchError(`Socket.IO publisher #${p}: ${text}`));
      }
    };
    socket.on('data', onData);
    if (pending.length) onData(Buffer.alloc(0));
  });
  socket.on('error', (err) => run.fail(`publisher #${p}: ${err.message}`));
  socket.on('close', () => run.phase !== Phase.Drain && run.fail(`publisher #${p}: connection closed`));
  return {
    topic,
    send: (payload) => write(Buffer.concat([SIO_PUBLISH, payload, SIO_END])),
    close: () => socket.destroy(),
  };
}

// ---------------------------------------------------------------------------------------------
// The broker alone.

/** Redis (standalone or Cluster): plain connections to the master that owns each channel's slot. */
async function rawRedis(run: Run, address: Extract<BrokerAddress, { kind: 'redis' }>): Promise<() => Promise<void>> {
  const { Redis } = await import('ioredis');
  const clients: InstanceType<typeof Redis>[] = [];
  const client = (port: number, host: string): InstanceType<typeof Redis> => {
    const c = new Redis({ host, port, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
    c.on('error', (err) => run.fail(`redis ${host}:${port}: ${err.message}`));
    clients.push(c);
    return c;
  };
  const channels = Array.from({ length: run.job.topics }, (_, t) => `bench:t${t}`);
  // The master of each channel: itself when standalone, from the slot map in a cluster.
  const owner: { host: string; port: number }[] = [];
  if (address.cluster) {
    const admin = client(address.nodes[0]!.port, address.nodes[0]!.host);
    const slots = (await admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    for (const ch of channels) {
      const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', ch));
      const range = slots.find(([a, b]) => slot >= a && slot <= b);
      if (!range) throw new BenchError(`no master owns slot ${slot}`);
      owner.push({ host: range[2][0] || '127.0.0.1', port: Number(range[2][1]) });
    }
  } else for (const _ of channels) owner.push(address.nodes[0]!);
  const k = run.job.nodes;
  // Publishers: node n's connections (one per master), shared by its publishers.
  const pubConns = Array.from({ length: k }, () => new Map<number, InstanceType<typeof Redis>>());
  const conn = (map: Map<number, InstanceType<typeof Redis>>, o: { host: string; port: number }) => {
    let c = map.get(o.port);
    if (!c) map.set(o.port, (c = client(o.port, o.host)));
    return c;
  };
  for (let n = 0; n < k; n++) {
    const weight = new Int32Array(run.job.topics);
    for (let t = 0; t < run.job.topics; t++) weight[t] = run.local(n, t);
    const s = run.subs.length;
    const subConns = new Map<number, InstanceType<typeof Redis>>();
    for (let t = 0; t < run.job.topics; t++) {
      if (weight[t] === 0) continue;
      const c = conn(subConns, owner[t]!);
      if (c.listenerCount('smessageBuffer') === 0) {
        c.on('smessageBuffer', (_channel: Buffer, m: Buffer) => {
          run.reads++;
          run.arrive(s, m[FLAG]!, readDigits(m, PUB, 3), readDigits(m, SEQ, 10), readDigits(m, TS, 15), performance.now());
        });
      }
      await c.ssubscribe(channels[t]!);
    }
    run.subs.push({ weight, close: () => undefined });
  }
  for (let j = 0; j < k * run.job.publishersPerNode; j++) {
    const topic = run.topicOfPub(j);
    const c = conn(pubConns[j % k]!, owner[topic]!);
    const ch = channels[topic]!;
    run.pubs.push({
      topic,
      send: (payload) => {
        c.spublish(ch, payload).catch((err: Error) => run.fail(`SPUBLISH: ${err.message}`));
      },
      close: () => undefined,
    });
  }
  return async () => {
    for (const c of clients) c.disconnect();
  };
}

async function rawNats(run: Run, address: Extract<BrokerAddress, { kind: 'nats' }>): Promise<() => Promise<void>> {
  const { connect } = await import('@nats-io/transport-node');
  const conns: Awaited<ReturnType<typeof connect>>[] = [];
  const k = run.job.nodes;
  const subjects = Array.from({ length: run.job.topics }, (_, t) => `bench.t.${t}`);
  for (let n = 0; n < k; n++) {
    const nc = await connect({ servers: address.servers });
    conns.push(nc);
    const weight = new Int32Array(run.job.topics);
    for (let t = 0; t < run.job.topics; t++) weight[t] = run.local(n, t);
    const s = run.subs.length;
    for (let t = 0; t < run.job.topics; t++) {
      if (weight[t] === 0) continue;
      nc.subscribe(subjects[t]!, {
        callback: (err, msg) => {
          if (err) return run.fail(`NATS subscription: ${err.message}`);
          run.reads++;
          const m = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
          run.arrive(s, m[FLAG]!, readDigits(m, PUB, 3), readDigits(m, SEQ, 10), readDigits(m, TS, 15), performance.now());
        },
      });
    }
    await nc.flush();
    run.subs.push({ weight, close: () => undefined });
  }
  const pubConns: typeof conns = [];
  for (let n = 0; n < k; n++) pubConns.push(await connect({ servers: address.servers }));
  for (let j = 0; j < k * run.job.publishersPerNode; j++) {
    const topic = run.topicOfPub(j);
    const nc = pubConns[j % k]!;
    const subject = subjects[topic]!;
    run.pubs.push({ topic, send: (payload) => nc.publish(subject, payload), close: () => undefined });
  }
  return async () => {
    for (const nc of [...conns, ...pubConns]) await nc.close();
  };
}

// ---------------------------------------------------------------------------------------------

/** Runs `tasks` with at most `limit` in progress. */
async function pooled<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let nextIndex = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (nextIndex < count) {
        const i = nextIndex++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

async function run(job: MultinodeJob, mark: (phase: 'measure-start' | 'measure-end') => void): Promise<MultinodeResult> {
  const r = new Run(job);
  let closeAll: () => Promise<void>;
  if (job.system === 'raw') {
    closeAll = job.address.kind === 'nats' ? await rawNats(r, job.address) : await rawRedis(r, job.address);
  } else {
    const sub = job.system === 'wsup' ? (r: Run, i: number, port: number, t: number) => wsSubscriber(r, i, port, t) : sioSubscriber;
    const pub = job.system === 'wsup' ? wsPublisher : sioPublisher;
    const n = job.nodes;
    r.subs.push(...(await pooled(n * job.subscribersPerNode, job.concurrency, (i) => sub(r, i, job.ports[i % n]!, r.topicOfSub(i)))));
    r.pubs.push(...(await pooled(n * job.publishersPerNode, job.concurrency, (j) => pub(r, j, job.ports[j % n]!, r.topicOfPub(j)))));
    closeAll = async () => {
      for (const x of [...r.subs, ...r.pubs]) x.close();
    };
  }
  try {
    r.armed();
    // Probes every 20 ms until every subscriber has one from every publisher of its topic.
    const probing = (async () => {
      const deadline = Date.now() + 20_000;
      while (r.probesMissing > 0) {
        if (Date.now() > deadline)
          throw new BenchError(`subscriptions not in place after 20 s (${r.probesMissing} publisher–subscriber pairs never reached)`);
        r.probeAll();
        await sleep(20);
      }
    })();
    await Promise.race([Promise.all([probing, r.waitProbes()]), r.failed]);
    r.startLoad();
    await Promise.race([sleep(job.warmupMs), r.failed]);
    mark('measure-start');
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    r.phase = Phase.Measure;
    const reads0 = r.reads;
    await Promise.race([sleep(job.durationMs), r.failed]);
    r.phase = Phase.Drain;
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const reads = r.reads - reads0;
    mark('measure-end');
    await Promise.race([r.drain(15_000), r.failed]);
    const seconds = (t1 - t0) / 1000;
    return {
      deliveriesPerSec: r.deliveries / seconds,
      messagesPerSec: r.completedInWindow / seconds,
      p50Ms: r.hist.quantile(0.5),
      p99Ms: r.hist.quantile(0.99),
      deliveries: r.deliveries,
      genCpu: (cpu.user + cpu.system) / 1000 / (t1 - t0),
      genBusy: elu.utilization,
      deliveriesPerRead: reads > 0 ? r.deliveries / reads : 0,
    };
  } finally {
    await closeAll().catch(() => undefined);
  }
}

if (process.send) {
  const send = (m: FromMultinodeGen): void => void process.send!(m);
  process.on('message', (m: ToMultinodeGen) => {
    if (m.type === 'exit') process.exit(0);
    run(m.job, (phase) => send({ type: 'mark', phase })).then(
      (result) => send({ type: 'result', result }),
      (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}
