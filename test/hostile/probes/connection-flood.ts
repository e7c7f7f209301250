/**
 * Connection flood: as many WebSockets as the server lets open (offering permessage-deflate, as
 * browsers do), up to a bound, all held open. Reports how many were upgraded or refused and what
 * each costs the server.
 */
import type { Probe, Scale } from '../harness.js';
import { Counter, DEFLATE_OFFER, KiB, MiB, mib, n, pool, RawClient } from '../wire.js';

const CONNECTIONS: Record<Scale, number> = { ci: 1000, soak: 10_000 };

export const connectionFlood: Probe = {
  id: 'connection-flood',
  title: 'connection flood (open and hold)',
  budgetMs: { ci: 15_000, soak: 90_000 },
  rssBound: { ci: 96 * MiB, soak: 640 * MiB },

  async run(ctx) {
    const count = CONNECTIONS[ctx.scale];
    const statuses = new Counter();
    const started = performance.now();
    const attempted = await pool(count, 64, ctx.deadline - 5000, async () => {
      const client = await RawClient.open(ctx.port, ctx.track, { headers: DEFLATE_OFFER, timeoutMs: 5000 });
      statuses.add(client.status ?? client.endedBy);
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    await ctx.hold();
    const upgraded = statuses.get(101);
    const live = (await ctx.serverDelta()).live;
    const perConnection = upgraded > 0 ? `${(ctx.rssGrowth() / upgraded / KiB).toFixed(1)} KiB each` : '';
    const others = statuses.keys().filter((k) => k !== '101');
    return {
      summary:
        `${n(upgraded)}/${n(attempted)} upgraded in ${seconds} s, ${n(live - 1)} still open after ${ctx.settings.holdMs / 1000} s` +
        `${perConnection ? ` (${mib(ctx.rssGrowth())}, ${perConnection})` : ''}${others.length ? `; others: ${others.map((k) => `${k} ×${statuses.get(k)}`).join(', ')}` : ''}`,
      facts: { statuses: statuses.toJSON(), attempted, upgraded },
    };
  },

  expectWsup(outcome) {
    const { statuses } = outcome.facts as { statuses: Record<string, number> };
    // Upgraded, or refused with an HTTP status (a connection limit may answer 503): never left hanging or reset.
    const unanswered = Object.entries(statuses).filter(([k]) => !/^\d+$/.test(k));
    return unanswered.length ? [`handshakes neither upgraded nor answered: ${JSON.stringify(Object.fromEntries(unanswered))}`] : [];
  },
};
