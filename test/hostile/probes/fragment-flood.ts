/**
 * Fragment flood: a message that never ends, one byte per continuation frame (7 bytes on the
 * wire each, the most frames for the fewest bytes that still add to the message). wsup stops it
 * at `maxFragments` (100,000) with 1009; a server that only limits the message's size keeps a
 * piece per frame until that size, 16 MiB here: millions of pieces.
 */
import type { Probe, Scale } from '../harness.js';
import { frame, MiB, mib, n, Op, RawClient, repeat } from '../wire.js';

const PER_BATCH = 10_000;
const BATCH = repeat(frame(Op.continuation, 'x', { fin: false }), PER_BATCH);
/** Just under 16 Mi frames: a 1-byte-per-frame message never reaches a 16 MiB maxPayload. */
const LIMIT: Record<Scale, number> = { ci: 1_000_000, soak: 16_000_000 };

export const fragmentFlood: Probe = {
  id: 'fragment-flood',
  title: 'fragment flood (endless 1-byte continuations)',
  budgetMs: { ci: 10_000, soak: 90_000 },
  rssBound: { ci: 48 * MiB, soak: 48 * MiB },

  async run(ctx) {
    const client = await RawClient.open(ctx.port, ctx.track);
    if (client.status !== 101) return { summary: `no upgrade (${client.status ?? client.endedBy})`, facts: { status: client.status } };
    client.socket.write(frame(Op.binary, 'x', { fin: false }));
    let frames = 1;
    let end: 'limit' | 'closed' | 'stalled' | 'deadline' = 'limit';
    while (frames < LIMIT[ctx.scale]) {
      if (client.scan.closeSeen) {
        end = 'closed';
        break;
      }
      if (Date.now() > ctx.deadline - 5000) {
        end = 'deadline';
        break;
      }
      const wrote = await client.write(BATCH, 3000);
      if (wrote === 'closed') {
        end = 'closed';
        break;
      }
      frames += PER_BATCH;
      if (wrote === 'stalled') {
        end = 'stalled';
        break;
      }
    }
    await ctx.hold();
    const sent = `${n(frames)} frames (${mib(frames * 7)})`;
    if (end === 'closed' || client.socket.destroyed || client.scan.closeSeen) {
      await client.drainUntilClose(2000);
      const code = client.scan.closeCode;
      const errors = Object.keys((await ctx.serverDelta()).errors).join(', ');
      return {
        summary: `closed ${code ?? `without a close frame (${client.endedBy})`}${errors ? ` (${errors})` : ''} mid-flood`,
        facts: { end: 'closed', closeCode: code, frames },
      };
    }
    if (end === 'stalled') return { summary: `stalled by TCP backpressure after ${sent}`, facts: { end, frames } };
    return { summary: `not stopped: ${sent} taken, message still open`, facts: { end, frames } };
  },

  expectWsup(outcome) {
    return outcome.facts.closeCode === 1009 ? [] : [`expected 1009 (too many fragments): ${outcome.summary}`];
  },
};
