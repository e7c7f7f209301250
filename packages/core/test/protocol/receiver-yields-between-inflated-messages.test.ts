/**
 * The receiver pauses between compressed messages once it has inflated INFLATE_SLICE bytes, and
 * holds the rest of its input until resumeParsing(): a read full of messages that each inflate to
 * megabytes is spread over turns of the event loop (deflate amplification), and nothing is lost or
 * reordered whatever the chunking.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WebSocketError } from '../../src/errors.js';
import { INFLATE_SLICE, Receiver, type MessageDecompressor, type ReceiverHandler } from '../../src/protocol/receiver.js';
import { encodeFrame } from '../helpers/raw.js';

/** "Inflates" each whole frame to `size` bytes of its first byte: a stand-in for zlib. */
class Amplifier implements MessageDecompressor {
  heldBytes = 0;
  private tag = -1;
  constructor(private readonly size: number) {}
  push(_binary: boolean, piece: Buffer, frameEnd: boolean): Buffer | null {
    if (this.tag === -1 && piece.length > 0) this.tag = piece[0]!;
    if (!frameEnd) return null;
    const out = Buffer.alloc(this.size, this.tag);
    this.tag = -1;
    return out;
  }
  reset(): void {}
}

class Recorder implements ReceiverHandler {
  messages: number[] = [];
  deferrals = 0;
  /** What a deferral does: nothing (the test resumes by hand) or resume later. */
  onDeferredHook: (() => void) | undefined;
  onMessage(_binary: boolean, data: Buffer | string): void {
    this.messages.push(typeof data === 'string' ? data.charCodeAt(0) : data[0]!);
  }
  onFragment(): void {
    throw new Error('message mode only');
  }
  onControl(opcode: number, data: Buffer): void {
    this.messages.push(-opcode * 1000 - data.length);
  }
  onError(err: WebSocketError): void {
    throw err;
  }
  onDeferred(): void {
    this.deferrals++;
    this.onDeferredHook?.();
  }
}

function receiver(rec: Recorder, size: number): Receiver {
  return new Receiver(rec, {
    expectMasked: true,
    maxPayload: 64 << 20,
    maxFragments: 100,
    frameMode: false,
    decompressor: new Amplifier(size),
  });
}

/** A masked, compressed binary message whose payload starts with `tag`. */
const compressed = (tag: number) => encodeFrame({ opcode: 2, rsv: 4, payload: Buffer.from([tag, 0, 0]), mask: true });
const ping = () => encodeFrame({ opcode: 9, payload: Buffer.from('hi'), mask: true });

describe('the receiver spreads inflation over turns', () => {
  it('stops after the message that reaches INFLATE_SLICE and keeps the rest of the chunk', () => {
    const rec = new Recorder();
    const r = receiver(rec, INFLATE_SLICE / 2);
    r.push(Buffer.concat([compressed(1), compressed(2), compressed(3), ping(), compressed(4), compressed(5)]));
    expect(rec.messages).toEqual([1, 2]);
    expect(rec.deferrals).toBe(1);
    expect(r.heldBytes).toBeGreaterThan(0);
    // Input that arrives while deferred waits behind the held bytes.
    r.push(compressed(6));
    expect(rec.messages).toEqual([1, 2]);
    r.resumeParsing();
    expect(rec.messages).toEqual([1, 2, 3, -9002, 4]);
    expect(rec.deferrals).toBe(2);
    r.resumeParsing();
    expect(rec.messages).toEqual([1, 2, 3, -9002, 4, 5, 6]);
    expect(rec.deferrals).toBe(3);
    expect(r.heldBytes).toBe(0);
  });

  it('resumeParsing(true) parses everything held without stopping again (the input has ended)', () => {
    const rec = new Recorder();
    const r = receiver(rec, INFLATE_SLICE);
    r.push(Buffer.concat([1, 2, 3, 4].map(compressed)));
    expect(rec.messages).toEqual([1]);
    r.resumeParsing(true);
    expect(rec.messages).toEqual([1, 2, 3, 4]);
    expect(rec.deferrals).toBe(1);
    // And it defers again afterwards.
    r.push(Buffer.concat([5, 6].map(compressed)));
    expect(rec.messages).toEqual([1, 2, 3, 4, 5]);
  });

  it('small inflated messages never stop the parser before a slice is inflated', () => {
    const rec = new Recorder();
    const r = receiver(rec, 1024);
    r.push(Buffer.concat(Array.from({ length: 200 }, (_, i) => compressed(i))));
    expect(rec.messages).toHaveLength(200);
    expect(rec.deferrals).toBe(0);
  });

  it('delivers the same messages in the same order whatever the chunking and deferrals', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constant(-1)), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 4 }),
        (tags, cuts, parts) => {
          const wire = Buffer.concat(tags.map((t) => (t === -1 ? ping() : compressed(t))));
          const rec = new Recorder();
          const r = receiver(rec, INFLATE_SLICE / parts);
          let at = 0;
          for (const c of cuts) {
            const end = Math.min(wire.length, at + c);
            r.push(Buffer.from(wire.subarray(at, end)));
            at = end;
            r.resumeParsing();
          }
          r.push(Buffer.from(wire.subarray(at)));
          for (let i = 0; i < tags.length; i++) r.resumeParsing();
          expect(rec.messages).toEqual(tags.map((t) => (t === -1 ? -9002 : t)));
        },
      ),
    );
  });
});
