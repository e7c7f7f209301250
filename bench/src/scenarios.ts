/** What is measured. Targets are wsup ÷ ws (pure JS), both from the same run. */

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

export type Scenario = EchoScenario | IdleScenario | BroadcastScenario;
/** The scenarios whose result is a message rate (and a ratio of rates). */
export type RateScenario = EchoScenario | BroadcastScenario;

export const SCENARIOS: Scenario[] = [
  {
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
  },
  {
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
  },
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
];
