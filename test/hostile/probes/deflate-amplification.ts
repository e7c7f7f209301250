/**
 * Deflate amplification: compressed messages that each inflate to just under the message limit
 * (15 MiB of zeros from 15 KiB on the wire, so no 1009), sent back to back on one connection
 * whose echoes the client reads. Every byte the attacker sends costs the server a thousand to
 * inflate, and the echo route compresses the 15 MiB again. A server must keep that work from
 * taking over its event loop: the other connections (the legitimate client) must still be served.
 */
import type { Probe, Scale } from '../harness.js';
import { DEFLATE_OFFER, deflateBomb, frame, KiB, MiB, mib, n, Op, RawClient } from '../wire.js';

const INFLATED = 15 * MiB;
const MESSAGE = frame(Op.binary, deflateBomb(INFLATED), { rsv1: true });
const ATTACK_MS: Record<Scale, number> = { ci: 1500, soak: 15_000 };
/** The longest a server's event loop may be blocked for the other connections to count as served. */
const MAX_LOOP_BLOCK_MS = 250;

export const deflateAmplification: Probe = {
  id: 'deflate-amplification',
  title: 'deflate amplification (15 KiB → 15 MiB messages, back to back)',
  budgetMs: { ci: 10_000, soak: 40_000 },
  // maxPayload, the receive high-water mark and one socket read's worth of such messages (4 × 15 MiB).
  rssBound: { ci: 96 * MiB, soak: 96 * MiB },
  // Found by this suite: see the report in test/hostile/README.md.
  knownHole:
    'inflating, and deflating the echo, run synchronously with no bound per event-loop turn: ~1 MiB/s of ' +
    '15 KiB messages that inflate to 15 MiB blocks the event loop for seconds and starves every other connection',

  async run(ctx) {
    const client = await RawClient.open(ctx.port, ctx.track, { headers: DEFLATE_OFFER });
    if (client.status !== 101) return { summary: `no upgrade (${client.status ?? client.endedBy})`, facts: { status: client.status } };
    const started = performance.now();
    let sent = 0;
    let stalls = 0;
    let closed = false;
    while (performance.now() - started < ATTACK_MS[ctx.scale]) {
      const wrote = await client.write(MESSAGE, 1000);
      if (wrote === 'closed') {
        closed = true;
        break;
      }
      sent++;
      // TCP pushing back (the server is busy or has stopped reading): keep going once it drains.
      if (wrote === 'stalled') stalls++;
      // Let the echoes be read between writes (the kernel takes many 15 KiB messages at once).
      if (sent % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const seconds = (performance.now() - started) / 1000;
    await ctx.hold();
    const server = await ctx.serverDelta();
    const what =
      `${n(sent)} messages (${mib(sent * MESSAGE.length)} sent, ${mib(sent * INFLATED)} to inflate, ${(sent / seconds).toFixed(0)}/s), ` +
      `${n(client.scan.frames)} echoes read; server event loop blocked up to ${n(server.loopDelayMaxMs)} ms`;
    const how = closed
      ? `closed ${client.scan.closeCode ?? client.endedBy}`
      : stalls
        ? `TCP pushed back ${n(stalls)}× for 1 s+`
        : 'never pushed back';
    return {
      summary: `${how}: ${what}`,
      facts: { closed, stalls, sent, echoes: client.scan.frames, loopDelayMaxMs: server.loopDelayMaxMs, wireKiB: MESSAGE.length / KiB },
    };
  },

  expectWsup(outcome) {
    const block = outcome.facts.loopDelayMaxMs as number;
    return block <= MAX_LOOP_BLOCK_MS ? [] : [`the server's event loop was blocked for ${block} ms (more than ${MAX_LOOP_BLOCK_MS} ms)`];
  },
};
