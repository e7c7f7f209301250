/**
 * Cross-origin upgrades (cross-site WebSocket hijacking): handshakes with
 * `Origin: https://evil.example` to a server on 127.0.0.1. wsup refuses other origins by default
 * (403); ws has no origin check unless one is written. An upgraded connection is then asked for
 * an echo, to show the page would be served.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Probe, Scale } from '../harness.js';
import { Counter, frame, MiB, n, Op, pool, RawClient } from '../wire.js';

const ATTEMPTS: Record<Scale, number> = { ci: 20, soak: 500 };

export const crossOrigin: Probe = {
  id: 'cross-origin',
  title: 'cross-origin (Origin: https://evil.example)',
  budgetMs: { ci: 8000, soak: 30_000 },
  rssBound: { ci: 16 * MiB, soak: 24 * MiB },

  async run(ctx) {
    const attempts = ATTEMPTS[ctx.scale];
    const statuses = new Counter();
    let echoed = 0;
    await pool(attempts, 10, ctx.deadline - 3000, async (i) => {
      const client = await RawClient.open(ctx.port, ctx.track, { headers: { Origin: 'https://evil.example' } });
      statuses.add(client.status ?? client.endedBy);
      if (client.status === 101) {
        client.socket.write(frame(Op.text, `stolen ${i}`));
        for (let waited = 0; waited < 2000 && client.scan.frames === 0 && !client.socket.destroyed; waited += 10) await sleep(10);
        if (client.scan.frames > 0) echoed++;
      }
      client.destroy();
    });
    await ctx.hold();
    const upgraded = statuses.get(101);
    return {
      summary: upgraded ? `upgraded: ${statuses}; ${n(echoed)} echoed to the foreign page` : `refused: ${statuses}`,
      facts: { statuses: statuses.toJSON(), attempts },
    };
  },

  expectWsup(outcome) {
    const { statuses, attempts } = outcome.facts as { statuses: Record<string, number>; attempts: number };
    return statuses['403'] === attempts ? [] : [`expected 403 for every cross-origin upgrade: ${outcome.summary}`];
  },
};
