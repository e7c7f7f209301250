/**
 * What is measured. Targets are wsup ÷ ws (pure JS), both from the same run; the HTTP/2 group,
 * wsup alone, compares HTTP/2 with HTTP/1.1 instead.
 */

export interface EchoScenario {
  kind: 'echo';
  name: string;
  title: string;
  payloadBytes: number;
  binary: boolean;
  content: 'random' | 'ascii' | 'json';
  deflate: boolean;
  connections: number;
  inflight: number;
  /** wsup must echo at least this many times as many messages per second as ws. */
  minRatio: number;
}

export interface IdleScenario {
  kind: 'idle';
  name: string;
  title: string;
  connections: number;
  /** Handshakes in progress at once: under Node's default listen backlog of 511. */
  concurrency: number;
  /** wsup's memory per connection must be at most this times ws's. */
  maxRatio: number;
}

/**
 * One publisher, many subscribers: every message the publisher sends is delivered to every
 * subscriber. This measures the server's send path (one message out to many sockets) rather
 * than its parser. Only servers with `broadcast` in the registry run it.
 */
export interface BroadcastScenario {
  kind: 'broadcast';
  name: string;
  title: string;
  subscribers: number;
  /** Handshakes in progress at once while the subscribers connect. */
  concurrency: number;
  /** Messages published and not yet delivered to every subscriber, at most. */
  inflight: number;
  payloadBytes: number;
  /** wsup must deliver at least this many times as many messages per second as ws. */
  minRatio: number;
}

/**
 * How the WebSockets of an HTTP/2-group run travel. ws and uWebSockets.js do not speak RFC 8441,
 * so this group is wsup alone, each HTTP/2 transport against its HTTP/1.1 counterpart.
 */
export interface Transport {
  name: string;
  /** Extended CONNECT streams of an HTTP/2 session, or an HTTP/1.1 Upgrade on a connection each. */
  http2: boolean;
  /**
   * Over HTTP/2, a session for each WebSocket, as from as many browsers, instead of one session
   * carrying them all: what multiplexing alone contributes shows in the difference.
   */
  sessionEach?: true;
  tls: boolean;
  /** What the server process listens with (servers/wsup-h2.ts). */
  listen: 'tls' | 'h2c' | 'http';
}

// TLS first: browsers speak HTTP/2 only over TLS, where one TLS port serves both protocols (ALPN
// picks), so the TLS runs differ only in what the client asks for. Cleartext (h2c against
// node:http) shows the same without the cost of TLS handshakes.
const H1_TLS: Transport = { name: 'h1 tls', http2: false, tls: true, listen: 'tls' };
const H2_TLS: Transport = { name: 'h2 tls', http2: true, tls: true, listen: 'tls' };
const H2_TLS_EACH: Transport = { name: 'h2 tls 1:1', http2: true, sessionEach: true, tls: true, listen: 'tls' };
const H1: Transport = { name: 'h1', http2: false, tls: false, listen: 'http' };
const H2C: Transport = { name: 'h2c', http2: true, tls: false, listen: 'h2c' };

/** Each HTTP/2 transport and the HTTP/1.1 one its figures are divided by. */
export const TRANSPORT_PAIRS: { label: string; h2: string; h1: string }[] = [
  { label: 'TLS', h2: H2_TLS.name, h1: H1_TLS.name },
  { label: 'TLS, a session per WebSocket', h2: H2_TLS_EACH.name, h1: H1_TLS.name },
  { label: 'cleartext', h2: H2C.name, h1: H1.name },
];

/**
 * Many WebSockets from one client process: over HTTP/2 all of them are streams of one session,
 * over HTTP/1.1 each has its own connection (and TLS handshake). Measures how fast they open and
 * what holding them costs the server and the client, per WebSocket.
 */
export interface H2OpenScenario {
  kind: 'h2-open';
  name: string;
  title: string;
  websockets: number;
  /** Handshakes (or extended CONNECTs) in progress at once: under Node's listen backlog of 511. */
  concurrency: number;
  transports: Transport[];
}

/** An existing echo scenario's messages and load, over each transport. */
export interface H2EchoScenario {
  kind: 'h2-echo';
  name: string;
  title: string;
  echo: EchoScenario;
  transports: Transport[];
}

export type H2Scenario = H2OpenScenario | H2EchoScenario;

/**
 * Several wsup nodes on one broker (`--scenario multinode`, src/multinode.ts): subscribers spread
 * over the nodes, publishers on every node, against the broker's own pub/sub rate and Socket.IO
 * with its Redis adapter doing the same work. Not part of the default run (about 2 minutes).
 */
export interface MultinodeScenario {
  kind: 'multinode';
  name: string;
  title: string;
  nodes: number;
  subscribersPerNode: number;
  publishersPerNode: number;
  topics: number;
  /** Messages each publisher may have published and not yet delivered to every subscriber. */
  window: number;
  payloadBytes: number;
  /** Handshakes in progress at once while the subscribers connect. */
  concurrency: number;
}

export type Scenario = EchoScenario | IdleScenario | BroadcastScenario | H2Scenario | MultinodeScenario;
/** The scenarios whose result is a message rate (and a ratio of rates) to ws's. */
export type RateScenario = EchoScenario | BroadcastScenario;

/** `--scenario http2` names the whole HTTP/2 group. */
export const H2_GROUP = 'http2';

/** `--scenario multinode` names the multinode group, which runs only when asked for. */
export const MULTINODE = 'multinode';

export function isMultinode(s: Scenario): s is MultinodeScenario {
  return s.kind === 'multinode';
}

export function isH2(s: Scenario): s is H2Scenario {
  return s.kind === 'h2-open' || s.kind === 'h2-echo';
}

const SMALL: EchoScenario = {
  kind: 'echo',
  name: 'small',
  title: '32 B text',
  payloadBytes: 32,
  binary: false,
  content: 'ascii',
  deflate: false,
  connections: 64,
  inflight: 16,
  minRatio: 4,
};

const MEDIUM: EchoScenario = {
  kind: 'echo',
  name: 'medium',
  title: '16 KiB binary',
  payloadBytes: 16 * 1024,
  binary: true,
  content: 'random',
  deflate: false,
  connections: 16,
  inflight: 8,
  minRatio: 2.5,
};

export const SCENARIOS: Scenario[] = [
  SMALL,
  MEDIUM,
  {
    kind: 'echo',
    name: 'large',
    title: '1 MiB binary',
    payloadBytes: 1024 * 1024,
    binary: true,
    content: 'random',
    deflate: false,
    connections: 4,
    inflight: 2,
    minRatio: 2,
  },
  {
    kind: 'echo',
    name: 'compressed',
    title: '4 KiB JSON-like text, permessage-deflate',
    payloadBytes: 4 * 1024,
    binary: false,
    content: 'json',
    deflate: true,
    connections: 32,
    inflight: 8,
    minRatio: 3,
  },
  {
    kind: 'broadcast',
    name: 'broadcast',
    title: '128 B text, 1 publisher to 1,000 subscribers',
    subscribers: 1000,
    concurrency: 256,
    inflight: 64,
    payloadBytes: 128,
    minRatio: 3,
  },
  {
    kind: 'idle',
    name: 'idle',
    title: '10,000 idle connections',
    connections: 10_000,
    concurrency: 256,
    maxRatio: 1,
  },
  // The HTTP/2 group (wsup alone: HTTP/2 ÷ HTTP/1.1), see src/h2-bench.ts. Opening is measured in
  // cleartext too (cheap runs, and it shows what a stream costs without TLS to hide it); the echoes
  // over TLS only, with one session and with a session per WebSocket, to stay within the time.
  {
    kind: 'h2-open',
    name: 'h2-open',
    title: '1,000 WebSockets from one client process',
    websockets: 1000,
    concurrency: 256,
    transports: [H1_TLS, H2_TLS, H1, H2C],
  },
  { kind: 'h2-echo', name: 'h2-small', title: `${SMALL.title} echo`, echo: SMALL, transports: [H1_TLS, H2_TLS, H2_TLS_EACH] },
  { kind: 'h2-echo', name: 'h2-medium', title: `${MEDIUM.title} echo`, echo: MEDIUM, transports: [H1_TLS, H2_TLS, H2_TLS_EACH] },
  // Only with --scenario multinode: three wsup nodes on a broker the bench starts (see src/multinode.ts).
  {
    kind: 'multinode',
    name: MULTINODE,
    title: 'three nodes on one broker',
    nodes: 3,
    subscribersPerNode: 100,
    publishersPerNode: 3,
    topics: 3,
    window: 16,
    payloadBytes: 64,
    concurrency: 64,
  },
];
