/**
 * Deflate bomb: with permessage-deflate agreed, one message whose few MiB of compressed payload
 * inflate to GiBs of zeros. The server must stop inflating at its message limit (wsup: inflation
 * gets `maxPayload` + 1 bytes of room, then 1009; ws is given the same 16 MiB `maxPayload`).
 */
import type { Probe, Scale } from '../harness.js';
import { Counter, DEFLATE_OFFER, deflateBomb, frame, GiB, MiB, mib, n, Op, RawClient } from '../wire.js';

const PARAMS: Record<Scale, { connections: number; inflated: number }> = {
  ci: { connections: 1, inflated: 1 * GiB },
  soak: { connections: 4, inflated: 4 * GiB },
};

const bombs = new Map<number, Buffer>();
function bombFrame(inflated: number): Buffer {
  let built = bombs.get(inflated);
  if (!built) bombs.set(inflated, (built = frame(Op.binary, deflateBomb(inflated), { rsv1: true })));
  return built;
}

export const deflateBombProbe: Probe = {
  id: 'deflate-bomb',
  title: 'deflate bomb (one message inflating to GiBs)',
  budgetMs: { ci: 8000, soak: 30_000 },
  // Per connection one message limit (16 MiB) being inflated, plus zlib's state.
  rssBound: { ci: 64 * MiB, soak: 128 * MiB },

  async run(ctx) {
    const { connections, inflated } = PARAMS[ctx.scale];
    const bomb = bombFrame(inflated);
    const codes = new Counter();
    await Promise.all(
      Array.from({ length: connections }, async () => {
        const client = await RawClient.open(ctx.port, ctx.track, { headers: DEFLATE_OFFER });
        if (client.status !== 101) {
          codes.add(`no upgrade (${client.status ?? client.endedBy})`);
          return;
        }
        await client.write(bomb, 5000);
        await client.drainUntilClose(Math.max(1000, ctx.deadline - Date.now() - 2000));
        codes.add(client.scan.closeCode ?? (client.socket.destroyed ? `no close frame (${client.endedBy})` : 'still open'));
      }),
    );
    await ctx.hold();
    const what = `${n(connections)} × ${mib(inflated)} bomb (${mib(bomb.length)} on the wire each)`;
    return {
      summary: `${codes.keys().every((k) => /^\d+$/.test(k)) ? 'closed ' : ''}${codes}: ${what}`,
      facts: { codes: codes.toJSON(), connections },
    };
  },

  expectWsup(outcome) {
    const { codes, connections } = outcome.facts as { codes: Record<string, number>; connections: number };
    return codes['1009'] === connections ? [] : [`expected 1009 for every bomb: ${outcome.summary}`];
  },
};
