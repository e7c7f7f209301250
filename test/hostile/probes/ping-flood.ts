/**
 * Ping flood: the client sends pings as fast as TCP takes them and never reads the pongs.
 * wsup counts automatic pongs toward its send budget and stops reading while they wait, so TCP
 * pushes back on the flooder (or, past `maxBuffered`, closes with 1008); a server that answers
 * every ping into an unbounded buffer grows by the size of the flood.
 */
import type { Probe } from '../harness.js';
import { frame, MiB, mib, n, Op, RawClient, repeat } from '../wire.js';

const PER_BATCH = 500;
/** 500 pings with 125-byte payloads: 64 KiB. */
const BATCH = repeat(frame(Op.ping, Buffer.alloc(125, 0x70)), PER_BATCH);
const LIMIT = { ci: 64 * MiB, soak: 1024 * MiB };
/** No `drain` for this long: TCP is pushing back. */
const STALL_MS = 500;

export const pingFlood: Probe = {
  id: 'ping-flood',
  title: 'ping flood (never reads the pongs)',
  budgetMs: { ci: 10_000, soak: 90_000 },
  // The send high-water mark (1 MiB) plus one socket read's worth of pongs; the rest is noise.
  rssBound: { ci: 32 * MiB, soak: 32 * MiB },

  async run(ctx) {
    const client = await RawClient.open(ctx.port, ctx.track);
    if (client.status !== 101) return { summary: `no upgrade (${client.status ?? client.endedBy})`, facts: { status: client.status } };
    client.socket.pause(); // never read: the pongs pile up
    let pings = 0;
    let end: 'limit' | 'stalled' | 'closed' | 'deadline' = 'limit';
    for (let bytes = 0; bytes < LIMIT[ctx.scale]; bytes += BATCH.length) {
      if (Date.now() > ctx.deadline - 5000) {
        end = 'deadline';
        break;
      }
      const wrote = await client.write(BATCH, STALL_MS);
      if (wrote === 'closed') {
        end = 'closed';
        break;
      }
      pings += PER_BATCH;
      if (wrote === 'stalled') {
        end = 'stalled';
        break;
      }
    }
    await ctx.hold();
    const sent = mib((pings * BATCH.length) / PER_BATCH);
    if (end === 'closed' || client.socket.destroyed) {
      await client.drainUntilClose(3000);
      const code = client.scan.closeCode;
      const how = code === undefined ? `terminated (${client.endedBy}, no close frame)` : `closed ${code}`;
      return { summary: `${how} after ${n(pings)} pings (${sent})`, facts: { end: 'closed', closeCode: code, pings } };
    }
    if (end === 'stalled') {
      const live = (await ctx.serverDelta()).live;
      return {
        summary: `stalled by TCP backpressure after ${n(pings)} pings (${sent}), held ${ctx.settings.holdMs / 1000} s, ${live > 1 ? 'still open' : 'closed'}`,
        facts: { end, pings },
      };
    }
    return {
      summary: `not stopped: all ${n(pings)} pings (${sent}) taken${end === 'deadline' ? ' before the time limit' : ''}`,
      facts: { end, pings },
    };
  },

  expectWsup(outcome) {
    const { end, closeCode } = outcome.facts;
    return end === 'stalled' || (end === 'closed' && closeCode === 1008)
      ? []
      : [`expected a TCP stall or a 1008 close, got: ${outcome.summary}`];
  },
};
