/**
 * The sender writes a row of short ASCII text frames with one string write: the bytes on the wire
 * are exactly those of the frames one by one, whatever else is queued around and between them.
 */
import { setImmediate as turn } from 'node:timers/promises';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Sender } from '../../src/protocol/sender.js';
import { decodeFrames, encodeFrame } from '../helpers/raw.js';
import { RecordingSink } from '../helpers/sink.js';

type Item =
  | { kind: 'text'; text: string; fin: boolean; rsv1: boolean }
  | { kind: 'binary'; size: number }
  | { kind: 'shared'; text: string };

const texts = fc.oneof(
  // Around the 125/126 boundary of the two-byte header, and the empty string.
  fc.string({ minLength: 0, maxLength: 130 }),
  fc.string({ minLength: 120, maxLength: 130 }),
  // Not ASCII: two-, three- and four-byte UTF-8, lone surrogates become U+FFFD.
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('é', '\u0080', '\u007f', '€', '😀'),
);

const items: fc.Arbitrary<Item> = fc.oneof(
  { weight: 6, arbitrary: texts.map((text) => ({ kind: 'text' as const, text, fin: true, rsv1: false })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), text: texts, fin: fc.boolean(), rsv1: fc.boolean() }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 300 }).map((size) => ({ kind: 'binary' as const, size })) },
  { weight: 1, arbitrary: texts.map((text) => ({ kind: 'shared' as const, text })) },
);

describe('short ASCII text frames in a row', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('leave as the same frames, bit for bit, as frame by frame', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(items, { minLength: 1, maxLength: 40 }), async (queued) => {
        const sink = new RecordingSink();
        const sender = new Sender(sink, false);
        const expected: { fin: boolean; rsv: number; opcode: number; payload: string }[] = [];
        for (const [i, item] of queued.entries()) {
          if (item.kind === 'text') {
            const bytes = Buffer.from(item.text);
            sender.queueFrame(1, item.text, bytes.length, item.fin, item.rsv1);
            expected.push({ fin: item.fin, rsv: item.rsv1 ? 4 : 0, opcode: 1, payload: bytes.toString('hex') });
          } else if (item.kind === 'binary') {
            const bytes = Buffer.alloc(item.size, i & 0xff);
            sender.queueFrame(2, bytes, bytes.length, true, false);
            expected.push({ fin: true, rsv: 0, opcode: 2, payload: bytes.toString('hex') });
          } else {
            // A complete unmasked frame, as a published message is queued.
            sender.queueShared(encodeFrame({ opcode: 1, payload: item.text, mask: false }));
            expected.push({ fin: true, rsv: 0, opcode: 1, payload: Buffer.from(item.text).toString('hex') });
          }
        }
        await turn();
        const { frames, rest } = decodeFrames(Buffer.concat(sink.chunks));
        expect(rest.length).toBe(0);
        expect(frames.map((f) => ({ fin: f.fin, rsv: f.rsv, opcode: f.opcode, payload: f.payload.toString('hex') }))).toEqual(expected);
        expect(frames.every((f) => !f.masked)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('cost one string write for the whole row', async () => {
    const latin1Write = vi.spyOn(Buffer.prototype, 'latin1Write');
    const sink = new RecordingSink();
    const sender = new Sender(sink, false);
    for (let i = 0; i < 16; i++) sender.queueFrame(1, `message ${i}`, `message ${i}`.length, true, false);
    await turn();
    expect(latin1Write).toHaveBeenCalledTimes(1);
    const { frames } = decodeFrames(Buffer.concat(sink.chunks));
    expect(frames.map((f) => f.payload.toString())).toEqual(Array.from({ length: 16 }, (_, i) => `message ${i}`));
  });

  it('are joined in rows of bounded length, so a burst of any size leaves whole', async () => {
    const latin1Write = vi.spyOn(Buffer.prototype, 'latin1Write');
    const sink = new RecordingSink();
    const sender = new Sender(sink, false);
    const texts = Array.from({ length: 20_000 }, (_, i) => `burst message ${i}`);
    for (const text of texts) sender.queueFrame(1, text, text.length, true, false);
    await turn();
    // 20,000 frames of about 20 bytes: 400 KB, written as rows of at most about 16 KiB each.
    expect(latin1Write.mock.calls.length).toBeGreaterThan(20);
    expect(latin1Write.mock.calls.length).toBeLessThan(40);
    const { frames, rest } = decodeFrames(Buffer.concat(sink.chunks));
    expect(rest.length).toBe(0);
    expect(frames.map((f) => f.payload.toString())).toEqual(texts);
  });

  it('are not joined when masked: a client masks each payload with its own key', async () => {
    const latin1Write = vi.spyOn(Buffer.prototype, 'latin1Write');
    const sink = new RecordingSink();
    const sender = new Sender(sink, true);
    for (let i = 0; i < 4; i++) sender.queueFrame(1, `m${i}`, 2, true, false);
    await turn();
    expect(latin1Write).not.toHaveBeenCalled();
    const { frames } = decodeFrames(Buffer.concat(sink.chunks));
    expect(frames.map((f) => [f.masked, f.payload.toString()])).toEqual([0, 1, 2, 3].map((i) => [true, `m${i}`]));
  });
});
