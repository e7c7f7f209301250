/** Messages exchanged over IPC between the orchestrator, the echo servers and the generator. */

/** What a server child is told through its environment. */
export interface ServerOptions {
  /** Offer permessage-deflate (the compressed scenario). */
  deflate: boolean;
}

export interface ServerReady {
  type: 'ready';
  port: number;
  /** Anything worth printing about how the server runs (native addons loaded, say). */
  info?: string;
}

export interface ServerStats {
  type: 'stats';
  rss: number;
  heapUsed: number;
  /** Peak RSS of the process so far (VmHWM where /proc has it). */
  peakRss: number;
  /** CPU time of all the process's threads, microseconds. */
  cpuMicros: number;
  /** Full (mark-compact) garbage collections since the process started. */
  majorGcs: number;
  /** performance.now() in the server when the numbers were taken. */
  at: number;
  /** The same moment on the monotonic clock, in µs: the time base of V8's CPU profiles. */
  monotonicMicros: number;
}

export type ToServer = { type: 'stats'; gc?: boolean } | { type: 'exit' };

/** A throughput run: pipelined echo of one message shape. */
export interface EchoJob {
  kind: 'echo';
  port: number;
  connections: number;
  /** Messages in flight per connection. */
  inflight: number;
  payloadBytes: number;
  binary: boolean;
  /** How payloads are filled: random bytes, ASCII text, or JSON-like text that compresses. */
  content: 'random' | 'ascii' | 'json';
  deflate: boolean;
  warmupMs: number;
  durationMs: number;
  /** The HTTP/2 group: how the connections travel. Default: HTTP/1.1 over plain TCP. */
  transport?: JobTransport;
}

/** How a job's WebSockets reach the server, in the HTTP/2 group. */
export interface JobTransport {
  /** Streams of an HTTP/2 session (RFC 8441), or an HTTP/1.1 connection each. */
  http2: boolean;
  /** Over HTTP/2: a session for each WebSocket instead of one for all. */
  sessionEach?: boolean;
  tls: boolean;
  /** The certificate to trust, PEM (TLS only). */
  ca?: string;
}

/**
 * The HTTP/2 group's open run: open `websockets` WebSockets from this (fresh) process, measure
 * what holding them costs it, report `idle-open`, hold them until released, then close them.
 */
export interface H2OpenJob {
  kind: 'h2-open';
  port: number;
  websockets: number;
  concurrency: number;
  transport: JobTransport;
  /** The bench's own lean client (node:http2, node:tls, node:net), or wsup's `connect()`. */
  client: 'bench' | 'wsup';
}

/** The idle run: open many connections, hold them while the server is measured, then close. */
export interface IdleJob {
  kind: 'idle';
  port: number;
  connections: number;
  /** Handshakes in progress at once, kept under the listen backlog. */
  concurrency: number;
}

/**
 * A broadcast run: `subscribers` connections to /sub, then one to /pub that publishes numbered
 * text messages, at most `inflight` of them not yet delivered to every subscriber.
 */
export interface BroadcastJob {
  kind: 'broadcast';
  port: number;
  subscribers: number;
  /** Handshakes in progress at once while the subscribers connect. */
  concurrency: number;
  inflight: number;
  payloadBytes: number;
  warmupMs: number;
  durationMs: number;
}

export type Job = EchoJob | IdleJob | BroadcastJob | H2OpenJob;

export interface EchoResult {
  kind: 'echo';
  /** False when deflate was asked for and the server did not agree to it. */
  negotiated: boolean;
  extensions: string;
  messages: number;
  seconds: number;
  msgsPerSec: number;
  /** Payload megabytes (10^6) echoed per second, counted once (server to generator). */
  mbPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Generator CPU time over the measured window, as a fraction of one core. */
  genCpu: number;
  /**
   * Share of the window the generator's event loop was not waiting for data (Node's event loop
   * utilisation). CPU time alone can mislead: waking up for every small read costs CPU even when
   * the generator spends most of its time waiting for the server.
   */
  genBusy: number;
  /** Echoes decoded and compared, warm-up and drain included. */
  verified: number;
  /** Messages per generator write and per read during the window (syscall amortisation). */
  msgsPerWrite: number;
  msgsPerRead: number;
}

/**
 * What a broadcast run measured. Same fields as an echo result where they mean the same thing,
 * counting deliveries (one message reaching one subscriber) where an echo run counts echoes.
 */
export interface BroadcastResult extends Omit<EchoResult, 'kind'> {
  kind: 'broadcast';
  /** Messages the publisher sent during the window (each to be delivered to every subscriber). */
  published: number;
}

export interface IdleResult {
  kind: 'idle';
  opened: number;
  acceptMs: number;
  /** Why fewer connections than asked were opened, if so. */
  shortfall?: string;
}

export interface H2OpenResult {
  kind: 'h2-open';
  opened: number;
  /** From the first connect to the last WebSocket open. */
  openMs: number;
  /** The client's CPU time while opening, µs. */
  cpuMicros: number;
  /** The client's RSS and heap once all were open, less before the first (both after forced GCs). */
  rssDelta: number;
  heapDelta: number;
  /** Why fewer WebSockets than asked were opened, if so. */
  shortfall?: string;
}

export type ToGenerator = { type: 'run'; job: Job } | { type: 'release' } | { type: 'exit' };

export type FromGenerator =
  | { type: 'ready' }
  | { type: 'mark'; phase: 'measure-start' | 'measure-end' }
  | { type: 'idle-open'; opened: number; acceptMs: number; shortfall?: string }
  | { type: 'result'; result: EchoResult | IdleResult | BroadcastResult | H2OpenResult }
  | { type: 'error'; message: string };
