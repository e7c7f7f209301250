/** What the generator is asked to do for one run of a rate scenario, and which servers run it. */
import type { EchoJob, Job } from './protocol.js';
import type { EchoScenario, RateScenario } from './scenarios.js';
import type { ServerSpec } from './servers.js';

export function rateJob(s: RateScenario, port: number, timing: { warmupMs: number; durationMs: number }): Job {
  if (s.kind === 'broadcast') {
    return {
      kind: 'broadcast',
      port,
      subscribers: s.subscribers,
      concurrency: s.concurrency,
      inflight: s.inflight,
      payloadBytes: s.payloadBytes,
      warmupMs: timing.warmupMs,
      durationMs: timing.durationMs,
    };
  }
  return echoJob(s, port, timing);
}

/** An echo scenario's job (plain TCP; the HTTP/2 group adds its transport). */
export function echoJob(s: EchoScenario, port: number, timing: { warmupMs: number; durationMs: number }): EchoJob {
  return {
    kind: 'echo',
    port,
    connections: s.connections,
    inflight: s.inflight,
    payloadBytes: s.payloadBytes,
    binary: s.binary,
    content: s.content,
    deflate: s.deflate,
    warmupMs: timing.warmupMs,
    durationMs: timing.durationMs,
  };
}

/** Servers that take part in a rate scenario: broadcast needs the routes, compressed needs deflate; idle-only references never do. */
export function rateServers(s: RateScenario, servers: ServerSpec[]): ServerSpec[] {
  if (s.kind === 'broadcast') return servers.filter((spec) => spec.broadcast === true);
  return servers.filter((spec) => !spec.idleOnly && !(s.deflate && spec.deflate === false));
}

/** Whether the server process is started with permessage-deflate on. */
export function wantsDeflate(s: RateScenario): boolean {
  return s.kind === 'echo' && s.deflate;
}
