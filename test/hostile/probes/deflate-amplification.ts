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
/**
 * The longest a server's event loop may be blocked for the other connections to count as served.
 * One message at a time is inflated (up to maxPayload) and its echo compressed, ~150 ms on an idle
 * 2-core machine and up to ~260 ms with other test files running beside it; before the receiver
 * yielded between messages, 2.3–5.9 s.
 */
const MAX_LOOP_BLOCK_MS = 750;

export const deflateAmplification: Probe = {
  id: 'deflate-amplification',
  title: 'deflate amplification (15 KiB → 15 MiB messages, back to back)',
  budgetMs: { ci: 10_000, soak: 40_000 },
  // One message at a time (the receiver pauses between inflated messages): the message inflating
  // (twice while its 64 KiB pieces are joined), its echo compressing, and the garbage V8 lets
  // build up before its external-memory trigger collects it. Measured +164–207 MiB over 1.5 s
  // and +199–202 MiB over 15 s: bounded, not growing with the attack (before: +405–822 MiB).
  rssBound: { ci: 320 * MiB, soak: 320 * MiB },

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
