/**
 * Slowloris: many connections each send the start of an upgrade request and then one byte of a
 * header per second, never finishing the head. The server must cut them once the head takes
 * longer than its limit (wsup's `handshakeTimeout`, which it enforces through Node's
 * `headersTimeout`; ws is given the same `headersTimeout`), with a 408.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Probe, SCALES, type Scale } from '../harness.js';
import { Counter, n, RawClient } from '../wire.js';

const START = 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Slow: ';
const SOCKETS: Record<Scale, number> = { ci: 50, soak: 1000 };

export const slowloris: Probe = {
  id: 'slowloris',
  title: 'slowloris (1 header byte per second)',
  budgetMs: { ci: 7000, soak: 30_000 },
  rssBound: { ci: 16 * 1024 * 1024, soak: 48 * 1024 * 1024 },

  async run(ctx) {
    const count = SOCKETS[ctx.scale];
    const started = performance.now();
    const closedAfter: number[] = [];
    const clients = await Promise.all(
      Array.from({ length: count }, async () => {
        const client = await RawClient.connect(ctx.port, ctx.track);
        client.socket.write(START);
        void client.closed.then(() => closedAfter.push(performance.now() - started));
        return client;
      }),
    );
    // One byte per second to every connection still open, until all are cut or time is up.
    const stopAt = ctx.deadline - 1000;
    while (closedAfter.length < count && Date.now() < stopAt) {
      await sleep(Math.min(1000, Math.max(0, stopAt - Date.now())));
      for (const c of clients) if (!c.socket.destroyed) c.socket.write('a');
    }
    const statuses = new Counter();
    for (const c of clients) statuses.add(c.status ?? (c.socket.destroyed ? `closed without a response (${c.endedBy})` : 'still open'));
    const open = count - closedAfter.length;
    const min = Math.min(...closedAfter) / 1000;
    const max = Math.max(...closedAfter) / 1000;
    const waited = ((performance.now() - started) / 1000).toFixed(1);
    const summary =
      open === 0
        ? `all ${n(count)} cut after ${min.toFixed(1)}–${max.toFixed(1)} s: ${statuses}`
        : `${n(open)}/${n(count)} still open after ${waited} s${closedAfter.length ? `; ${n(closedAfter.length)} cut by ${max.toFixed(1)} s` : ''}: ${statuses}`;
    return { summary, facts: { open, count, maxCloseMs: closedAfter.length ? max * 1000 : undefined, statuses: statuses.toJSON() } };
  },

  expectWsup(outcome, scale) {
    const { open, count, maxCloseMs, statuses } = outcome.facts as {
      open: number;
      count: number;
      maxCloseMs: number;
      statuses: Record<string, number>;
    };
    const broken: string[] = [];
    if (open > 0) broken.push(`${open} slowloris connections still open`);
    // Node checks every connectionsCheckingInterval, so a head may live that much past the limit.
    const { handshakeTimeout, connectionsCheckingInterval } = SCALES[scale].server;
    const limit = handshakeTimeout * 1000 + 2 * connectionsCheckingInterval + 1500;
    if (maxCloseMs > limit) broken.push(`cut after ${maxCloseMs} ms, more than ${limit} ms`);
    if ((statuses['408'] ?? 0) !== count) broken.push(`expected 408 for every one: ${JSON.stringify(statuses)}`);
    return broken;
  },
};
