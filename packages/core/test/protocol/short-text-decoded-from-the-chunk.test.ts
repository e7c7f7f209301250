import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WebSocketError } from '../../src/errors.js';
import { Receiver, type ReceiverHandler } from '../../src/protocol/receiver.js';
import { encodeFrame } from '../helpers/raw.js';

/** Records how each text message reached the handler: decoded by the receiver, or as bytes. */
class Recorder implements ReceiverHandler {
  texts: { via: 'string' | 'bytes'; text: string; size: number }[] = [];
  errors: WebSocketError[] = [];
  onMessage(binary: boolean, data: Buffer | string): void {
    if (typeof data === 'string') this.texts.push({ via: 'string', text: data, size: data.length });
    else if (!binary) this.texts.push({ via: 'bytes', text: data.toString('utf8'), size: data.length });
  }
  onFragment(): void {
    throw new Error('message mode only');
  }
  onControl(): void {}
  onError(err: WebSocketError): void {
    this.errors.push(err);
  }
  onDeferred(): void {}
}

function receive(wire: Buffer): Recorder {
  const rec = new Recorder();
  new Receiver(rec, { expectMasked: true, maxPayload: 1 << 20, maxFragments: 100, frameMode: false }).push(Buffer.from(wire));
  return rec;
}

const isAscii = (s: string) => [...s].every((c) => c.charCodeAt(0) < 0x80);

describe('short text messages', () => {
  it('arrive with the same text whichever way they are decoded: short ASCII by the receiver, the rest as validated bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 80 })), { maxLength: 8 }),
        (texts) => {
          const rec = receive(Buffer.concat(texts.map((t) => encodeFrame({ opcode: 1, payload: t }))));
          expect(rec.errors).toEqual([]);
          expect(rec.texts.map((t) => t.text)).toEqual(texts);
          for (const [i, t] of rec.texts.entries()) {
            const bytes = Buffer.byteLength(texts[i]!);
            expect(t.size).toBe(bytes);
            // An empty payload completes with its header, before any payload is looked at.
            expect(t.via).toBe(isAscii(texts[i]!) && bytes > 0 && bytes <= 256 ? 'string' : 'bytes');
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('still fail with 1007 on invalid UTF-8 (a byte of 0x80 or more is never taken for ASCII)', () => {
    for (const bad of [Buffer.from([0x61, 0x80]), Buffer.from([0xff]), Buffer.from([0x61, 0x62, 0x63, 0xc3])]) {
      const rec = receive(encodeFrame({ opcode: 1, payload: bad }));
      expect(rec.texts).toEqual([]);
      expect(rec.errors.map((e) => e.closeCode)).toEqual([1007]);
    }
  });

  it('that arrive fragmented or split across reads take the general path', () => {
    const frames = Buffer.concat([encodeFrame({ opcode: 1, fin: false, payload: 'ab' }), encodeFrame({ opcode: 0, payload: 'cd' })]);
    expect(receive(frames).texts).toEqual([{ via: 'bytes', text: 'abcd', size: 4 }]);
    const rec = new Recorder();
    const receiver = new Receiver(rec, { expectMasked: true, maxPayload: 1 << 20, maxFragments: 100, frameMode: false });
    const wire = encodeFrame({ opcode: 1, payload: 'hello there' });
    receiver.push(Buffer.from(wire.subarray(0, 9)));
    receiver.push(Buffer.from(wire.subarray(9)));
    expect(rec.texts).toEqual([{ via: 'bytes', text: 'hello there', size: 11 }]);
  });

  it('are refused wherever the general path refuses them', () => {
    const refused = (wire: Buffer, options: { maxPayload?: number } = {}) => {
      const rec = new Recorder();
      new Receiver(rec, { expectMasked: true, maxPayload: options.maxPayload ?? 1 << 20, maxFragments: 100, frameMode: false }).push(
        Buffer.from(wire),
      );
      return { texts: rec.texts.map((t) => t.text), codes: rec.errors.map((e) => e.closeCode) };
    };
    // Over maxPayload: 1009, however short.
    expect(refused(encodeFrame({ opcode: 1, payload: 'twenty bytes of text' }), { maxPayload: 10 })).toEqual({ texts: [], codes: [1009] });
    // A new text message while a fragmented one is in progress: 1002.
    const interleaved = Buffer.concat([encodeFrame({ opcode: 1, fin: false, payload: 'ab' }), encodeFrame({ opcode: 1, payload: 'cd' })]);
    expect(refused(interleaved)).toEqual({ texts: [], codes: [1002] });
    // Unmasked, to a server: 1002.
    expect(refused(encodeFrame({ opcode: 1, payload: 'hello', mask: false }))).toEqual({ texts: [], codes: [1002] });
    // RSV1 without an extension: 1002.
    expect(refused(encodeFrame({ opcode: 1, payload: 'hello', rsv: 4 }))).toEqual({ texts: [], codes: [1002] });
  });
});
