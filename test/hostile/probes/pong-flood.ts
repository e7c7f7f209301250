/**
 * Pong flood: unsolicited pongs (legal, RFC 6455 §5.5.3: a one-way heartbeat) as fast as TCP
 * takes them, while the client reads whatever comes back. A server should drop them without
 * keeping anything and stay open.
 */
import type { Probe } from '../harness.js';
import { frame, MiB, mib, n, Op, RawClient, repeat } from '../wire.js';

const PER_BATCH = 500;
const BATCH = repeat(frame(Op.pong, Buffer.alloc(125, 0x6f)), PER_BATCH);
const LIMIT = { ci: 48 * MiB, soak: 2048 * MiB };
const MAX_MS = { ci: 1000, soak: 20_000 };

export const pongFlood: Probe = {
  id: 'pong-flood',
  title: 'pong flood (unsolicited pongs)',
  budgetMs: { ci: 8000, soak: 40_000 },
  rssBound: { ci: 24 * MiB, soak: 24 * MiB },

  async run(ctx) {
    const client = await RawClient.open(ctx.port, ctx.track);
    if (client.status !== 101) return { summary: `no upgrade (${client.status ?? client.endedBy})`, facts: { status: client.status } };
    const started = performance.now();
    let pongs = 0;
    let end: 'limit' | 'time' | 'stalled' | 'closed' = 'limit';
    for (let bytes = 0; bytes < LIMIT[ctx.scale]; bytes += BATCH.length) {
      if (performance.now() - started > MAX_MS[ctx.scale]) {
        end = 'time';
        break;
      }
      const wrote = await client.write(BATCH, 1000);
      if (wrote === 'closed') {
        end = 'closed';
        break;
      }
      pongs += PER_BATCH;
      if (wrote === 'stalled') {
        end = 'stalled';
        break;
      }
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    await ctx.hold();
    const sent = `${n(pongs)} pongs (${mib((pongs * BATCH.length) / PER_BATCH)}) in ${seconds} s`;
    if (end === 'closed' || client.socket.destroyed) {
      await client.drainUntilClose(2000);
      return {
        summary: `closed ${client.scan.closeCode ?? client.endedBy} after ${sent}`,
        facts: { end: 'closed', closeCode: client.scan.closeCode, pongs },
      };
    }
    if (end === 'stalled') return { summary: `stalled by TCP backpressure after ${sent}`, facts: { end, pongs } };
    return { summary: `ignored: ${sent}, still open`, facts: { end, pongs } };
  },

  expectWsup(outcome) {
    return outcome.facts.end === 'closed' ? [`unsolicited pongs are legal, yet: ${outcome.summary}`] : [];
  },
};
