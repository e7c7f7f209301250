/**
 * Slow readers: N clients send 1 MiB binary messages to the echo route (the README's loop,
 * which does not wait when `send()` returns false) and never read the echoes. wsup bounds each
 * connection at `maxBuffered` (64 MiB: past it, 1008) plus its receive high-water mark; a
 * server without a send budget buffers every echo. No permessage-deflate (random payloads would
 * not compress anyway), so the bytes buffered are the bytes sent.
 */
import { randomBytes } from 'node:crypto';
import type { Probe, Scale } from '../harness.js';
import { Counter, frame, MiB, mib, Op, RawClient } from '../wire.js';

const MESSAGE = frame(Op.binary, randomBytes(MiB));
const PARAMS: Record<Scale, { clients: number; perClient: number }> = {
  ci: { clients: 3, perClient: 80 * MiB },
  soak: { clients: 48, perClient: 96 * MiB },
};
/** wsup's defaults: maxBuffered, and the receive high-water mark plus one message in flight. */
const PER_CONNECTION = 64 * MiB + 2 * MiB;

export const slowReaders: Probe = {
  id: 'slow-readers',
  title: 'slow readers (1 MiB echoes never read)',
  budgetMs: { ci: 15_000, soak: 120_000 },
  // Per connection, not per process: N readers hold up to N × maxBuffered.
  rssBound: { ci: PARAMS.ci.clients * PER_CONNECTION + 64 * MiB, soak: PARAMS.soak.clients * PER_CONNECTION + 64 * MiB },

  async run(ctx) {
    const { clients, perClient } = PARAMS[ctx.scale];
    const ends = new Counter();
    const sentMiB: number[] = [];
    // All readers connect first, then all send at once.
    const opened = await Promise.all(Array.from({ length: clients }, () => RawClient.open(ctx.port, ctx.track)));
    const peers = opened.filter((c) => c.status === 101);
    for (const c of opened) if (c.status !== 101) ends.add(`no upgrade (${c.status ?? c.endedBy})`);
    await Promise.all(
      peers.map(async (client) => {
        client.socket.pause();
        let sent = 0;
        let end = 'limit';
        while (sent < perClient) {
          if (Date.now() > ctx.deadline - 8000) {
            end = 'deadline';
            break;
          }
          // A busy server may not drain for a moment; this long without it is TCP pushing back.
          const wrote = await client.write(MESSAGE, ctx.scale === 'ci' ? 1500 : 3000);
          if (wrote === 'closed') {
            end = 'closed';
            break;
          }
          sent += MiB;
          if (wrote === 'stalled') {
            end = 'stalled';
            break;
          }
        }
        sentMiB.push(sent / MiB);
        ends.add(end);
      }),
    );
    await ctx.hold();
    // What the server did: close codes as the clients read them (after the queued echoes), and
    // its own count of errors.
    const codes = new Counter();
    await Promise.all(
      peers.map(async (p) => {
        if (!p.socket.destroyed) return;
        await p.drainUntilClose(2000);
        if (p.scan.closeCode !== undefined) codes.add(p.scan.closeCode);
      }),
    );
    const server = await ctx.serverDelta();
    const errors = Object.entries(server.errors)
      .map(([k, v]) => `${k} ×${v}`)
      .join(', ');
    const words: Record<string, string> = {
      closed: 'cut by the server',
      stalled: 'stalled by TCP backpressure',
      limit: 'not stopped',
      deadline: 'not stopped (time)',
    };
    const how = ends
      .keys()
      .map((k) => `${ends.get(k)}/${clients} ${words[k] ?? k}`)
      .join(', ');
    const range = sentMiB.length ? `${Math.min(...sentMiB)}–${Math.max(...sentMiB)} MiB` : '0 MiB';
    return {
      summary: `${how} after ${range} sent each${errors ? ` (${errors})` : ''}${codes.total ? `, close codes read: ${codes}` : ''}; ${mib(ctx.rssGrowth())} still held after the hold`,
      facts: { ends: ends.toJSON(), codes: codes.toJSON(), errors: server.errors, clients, sentMiB: sentMiB.reduce((a, b) => a + b, 0) },
    };
  },

  expectWsup(outcome) {
    const { ends, clients } = outcome.facts as { ends: Record<string, number>; clients: number };
    // Each reader either stalled (TCP backpressure) or was closed; none was let send without bound.
    const bounded = (ends.closed ?? 0) + (ends.stalled ?? 0);
    return bounded === clients ? [] : [`every slow reader must be stalled or closed, got: ${outcome.summary}`];
  },
};
