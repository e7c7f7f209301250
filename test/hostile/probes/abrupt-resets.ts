/**
 * Abrupt resets: connections that end with a TCP RST in awkward places, in turn: in the middle
 * of the request head; after the upgrade, in the middle of a frame; in the middle of a
 * compressed fragmented message; right after sending a 256 KiB message (while its echo is being
 * written). The server must survive and release every one.
 */
import { randomBytes } from 'node:crypto';
import type { Probe, Scale } from '../harness.js';
import { Counter, DEFLATE_OFFER, frame, handshakeRequest, MiB, n, Op, pool, RawClient } from '../wire.js';

const CYCLES: Record<Scale, number> = { ci: 300, soak: 20_000 };
const HEAD = handshakeRequest('/echo', DEFLATE_OFFER);
const HALF_HEAD = HEAD.slice(0, Math.floor(HEAD.length / 2));
/** A frame that announces 1000 bytes, cut after 100. */
const HALF_FRAME = frame(Op.binary, randomBytes(1000)).subarray(0, 106);
/** A compressed first fragment ('hello', deflated), then half of the next frame. */
const COMPRESSED_START = Buffer.concat([
  frame(Op.text, Buffer.from([0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), { fin: false, rsv1: true }),
  frame(Op.continuation, randomBytes(300)).subarray(0, 150),
]);
const BIG = frame(Op.binary, randomBytes(256 * 1024));

const KINDS = ['mid-head', 'mid-frame', 'mid-compressed-message', 'during-echo'] as const;

export const abruptResets: Probe = {
  id: 'abrupt-resets',
  title: 'abrupt resets (RST mid-head, mid-frame, mid-echo)',
  budgetMs: { ci: 15_000, soak: 150_000 },
  rssBound: { ci: 32 * MiB, soak: 48 * MiB },

  async run(ctx) {
    const cycles = CYCLES[ctx.scale];
    const kinds = new Counter();
    const started = performance.now();
    const done = await pool(cycles, 16, ctx.deadline - 8000, async (i) => {
      const kind = KINDS[i % KINDS.length]!;
      let client: RawClient;
      if (kind === 'mid-head') {
        client = await RawClient.connect(ctx.port, ctx.track);
        client.socket.write(HALF_HEAD);
      } else {
        client = await RawClient.open(ctx.port, ctx.track, { headers: DEFLATE_OFFER, timeoutMs: 3000 });
        if (client.status !== 101) {
          kinds.add(`refused ${client.status ?? client.endedBy}`);
          client.destroy();
          return;
        }
        client.socket.write(kind === 'mid-frame' ? HALF_FRAME : kind === 'mid-compressed-message' ? COMPRESSED_START : BIG);
      }
      // Let the bytes reach the server before the RST.
      await new Promise((resolve) => setImmediate(resolve));
      if (!client.socket.destroyed) client.socket.resetAndDestroy();
      kinds.add(kind);
    });
    const rate = Math.round(done / ((performance.now() - started) / 1000));
    const live = await ctx.waitForLive(1, 5000);
    await ctx.hold();
    const alive = ctx.serverAlive();
    return {
      summary: `${n(done)} resets (${n(rate)}/s, ${KINDS.length} kinds): server ${alive ? 'up' : 'DOWN'}, ${n(live - 1)} left open`,
      facts: { done, kinds: kinds.toJSON(), leftOpen: live - 1, alive },
    };
  },

  expectWsup(outcome) {
    const { leftOpen, alive } = outcome.facts as { leftOpen: number; alive: boolean };
    const broken: string[] = [];
    if (!alive) broken.push('the server died');
    if (leftOpen > 0) broken.push(`${leftOpen} reset connections still counted open`);
    return broken;
  },
};
