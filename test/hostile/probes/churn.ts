/**
 * Churn: connect, send a message, read its echo, close cleanly, again and again (half the
 * clients offering permessage-deflate). Afterwards the server must be back to the legitimate
 * client alone: nothing left open, nothing growing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Probe, Scale } from '../harness.js';
import { closeFrame, Counter, DEFLATE_OFFER, frame, MiB, n, Op, pool, RawClient } from '../wire.js';

const CYCLES: Record<Scale, number> = { ci: 300, soak: 20_000 };

/** Polls `cond` until it holds, the connection ends or `ms` pass. */
async function waitFor(cond: () => boolean, client: RawClient, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; !cond(); await sleep(2)) if (client.socket.destroyed || Date.now() > deadline) return cond();
  return true;
}

export const churn: Probe = {
  id: 'churn',
  title: 'churn (connect, echo, close)',
  budgetMs: { ci: 15_000, soak: 150_000 },
  rssBound: { ci: 32 * MiB, soak: 48 * MiB },

  async run(ctx) {
    const cycles = CYCLES[ctx.scale];
    const ends = new Counter();
    const started = performance.now();
    const done = await pool(cycles, 16, ctx.deadline - 6000, async (i) => {
      const client = await RawClient.open(ctx.port, ctx.track, { headers: i % 2 ? DEFLATE_OFFER : {}, timeoutMs: 3000 });
      if (client.status !== 101) {
        ends.add(`refused ${client.status ?? client.endedBy}`);
        client.destroy();
        return;
      }
      client.socket.write(frame(Op.text, `churn ${i}`));
      if (!(await waitFor(() => client.scan.frames > 0, client, 3000))) {
        ends.add('no echo');
        client.destroy();
        return;
      }
      client.socket.write(closeFrame(1000));
      const closed = await Promise.race([client.closed.then(() => true), sleep(3000).then(() => false)]);
      ends.add(
        closed
          ? client.scan.closeCode === 1000
            ? 'clean'
            : `closed ${client.scan.closeCode ?? 'without a close frame'}`
          : 'close not finished',
      );
      client.destroy();
    });
    const rate = Math.round(done / ((performance.now() - started) / 1000));
    const live = await ctx.waitForLive(1, 3000);
    await ctx.hold();
    return {
      summary: `${n(done)} cycles (${n(rate)}/s): ${ends}; ${n(live - 1)} left open`,
      facts: { ends: ends.toJSON(), done, leftOpen: live - 1 },
    };
  },

  expectWsup(outcome) {
    const { ends, done, leftOpen } = outcome.facts as { ends: Record<string, number>; done: number; leftOpen: number };
    const broken: string[] = [];
    const answered = Object.entries(ends)
      .filter(([k]) => k === 'clean' || /^refused \d+$/.test(k))
      .reduce((sum, [, v]) => sum + v, 0);
    if (answered !== done) broken.push(`cycles neither clean nor refused with a status: ${JSON.stringify(ends)}`);
    if (leftOpen > 0) broken.push(`${leftOpen} connections left open`);
    return broken;
  },
};
