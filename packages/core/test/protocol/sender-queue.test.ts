/**
 * The sender's queue: frames queued in one turn leave in one batch, in order, large payloads by
 * reference; an idle sender keeps no array of its own, and a burst's array is let go.
 */
import { setImmediate as turn } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serverFrame } from '../../src/protocol/frame-header.js';
import { FanOut } from '../../src/protocol/fan-out.js';
import { Sender } from '../../src/protocol/sender.js';
import { decodeFrames } from '../helpers/raw.js';
import { RecordingSink } from '../helpers/sink.js';

function queueOf(sender: Sender): unknown[] {
  return (sender as unknown as { queue: unknown[] }).queue;
}

describe('the sender queue', () => {
  it('writes every frame queued in a turn, in order, whatever their sizes and kinds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string({ maxLength: 200 }).map((text) => ({ text })),
            fc.integer({ min: 0, max: 40_000 }).map((size) => ({ size })),
          ),
          { minLength: 1, maxLength: 80 },
        ),
        fc.boolean(),
        async (items, masked) => {
          const sink = new RecordingSink();
          const sender = new Sender(sink, masked);
          const expected: { opcode: number; payload: Buffer }[] = [];
          for (const [i, item] of items.entries()) {
            if ('text' in item) {
              sender.queueFrame(1, item.text, Buffer.byteLength(item.text), true, false);
              expected.push({ opcode: 1, payload: Buffer.from(item.text) });
            } else {
              const payload = Buffer.alloc(item.size, i & 0xff);
              sender.queueFrame(2, payload, payload.length, true, false);
              expected.push({ opcode: 2, payload: Buffer.from(payload) });
            }
          }
          await turn();
          const { frames, rest } = decodeFrames(Buffer.concat(sink.chunks));
          expect(rest.length).toBe(0);
          expect(frames.map((f) => [f.opcode, f.masked, f.payload.toString('hex')])).toEqual(
            expected.map((e) => [e.opcode, masked, e.payload.toString('hex')]),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('passes a large payload to the socket by reference, unmasked', async () => {
    const sink = new RecordingSink();
    const sender = new Sender(sink, false);
    const big = Buffer.alloc(32 * 1024, 1);
    sender.queueFrame(1, 'small', 5, true, false);
    sender.queueFrame(2, big, big.length, true, false);
    await turn();
    expect(sink.chunks).toContain(big);
  });

  it('keeps no array of its own until it sends', () => {
    const a = new Sender(new RecordingSink(), false);
    const b = new Sender(new RecordingSink(), false);
    expect(queueOf(a)).toBe(queueOf(b));
    a.queueFrame(1, 'x', 1, true, false);
    expect(queueOf(a)).not.toBe(queueOf(b));
    expect(queueOf(b)).toHaveLength(0);
  });

  it('keeps its array after a short batch and lets a burst’s go', async () => {
    const sender = new Sender(new RecordingSink(), false);
    for (let i = 0; i < 10; i++) sender.queueFrame(1, 'x', 1, true, false);
    await turn();
    const kept = queueOf(sender);
    expect(kept.length).toBe(30);
    // Payloads are released after the flush.
    expect(kept.filter((slot) => slot === 'x')).toHaveLength(0);
    for (let i = 0; i < 100; i++) sender.queueFrame(1, 'y', 1, true, false);
    await turn();
    expect(queueOf(sender)).toHaveLength(0);
    expect(queueOf(sender)).toBe(queueOf(new Sender(new RecordingSink(), false)));
  });

  it('follows a run queued alone without making an array, and writes it as the one Buffer every follower shares', async () => {
    const sinks = [new RecordingSink(), new RecordingSink()];
    const senders = sinks.map((sink) => new Sender(sink, false));
    const run = new FanOut();
    run.add(serverFrame(Buffer.from('m1'), 1, false), 2);
    for (const sender of senders) {
      sender.queueRun(run, true);
      run.follow(1 << 20);
    }
    run.add(serverFrame(Buffer.from('m2'), 1, false), 2);
    const all = run.all();
    await turn();
    for (const [i, sink] of sinks.entries()) {
      expect(sink.chunks).toEqual([all]);
      expect(queueOf(senders[i]!)).toBe(queueOf(new Sender(new RecordingSink(), false)));
    }
    expect(decodeFrames(sinks[0]!.chunks[0]!).frames.map((f) => f.payload.toString())).toEqual(['m1', 'm2']);
  });

  it('writes a frame queued after a run it followed alone after the run’s frames, and ends the run', async () => {
    const sink = new RecordingSink();
    const sender = new Sender(sink, false);
    const run = new FanOut();
    run.add(serverFrame(Buffer.from('m1'), 1, false), 2);
    sender.queueRun(run, true);
    run.follow(1 << 20);
    sender.queueFrame(1, 'own', 3, true, false);
    expect(run.add(serverFrame(Buffer.from('m2'), 1, false), 2)).toBe(false);
    await turn();
    expect(decodeFrames(Buffer.concat(sink.chunks)).frames.map((f) => f.payload.toString())).toEqual(['m1', 'own']);
  });
});
