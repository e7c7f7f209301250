/**
 * A connection holds its receiver only while something is partly received: between frames it
 * gives it back to the spares (giveBack) and takes one for its next read (takeReceiver). That is
 * sound only if an idle receiver holds nothing but its settings, and if every connection gets
 * its own settings back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WebSocketError } from '../../src/errors.js';
import { Receiver, type ReceiverHandler, type ReceiverOptions } from '../../src/protocol/receiver.js';
import { giveBack, takeReceiver } from '../../src/protocol/spare-receivers.js';
import { encodeFrame } from '../helpers/raw.js';

/** Everything a receiver reports, in order. */
class Log implements ReceiverHandler {
  readonly events: string[] = [];
  onMessage(binary: boolean, data: Buffer | string): void {
    this.events.push(`message ${binary ? 'b' : 't'} ${Buffer.from(data).toString('hex')}`);
  }
  onFragment(binary: boolean, data: Buffer, fin: boolean): void {
    this.events.push(`fragment ${binary ? 'b' : 't'} ${data.toString('hex')} ${fin}`);
  }
  onControl(opcode: number, data: Buffer): void {
    this.events.push(`control ${opcode} ${data.toString('hex')}`);
  }
  onError(err: WebSocketError): void {
    this.events.push(`error ${err.code} ${err.closeCode}`);
  }
  onDeferred(): void {
    this.events.push('deferred');
  }
}

/** A connection that takes a receiver per read and gives it back whenever it is idle, as WebSocket does. */
class Connection {
  readonly log = new Log();
  private receiver: Receiver | undefined;
  constructor(private readonly options: ReceiverOptions) {}
  push(chunk: Buffer): void {
    const r = (this.receiver ??= takeReceiver(this.log, this.options));
    r.push(chunk);
    if (r.isIdle) this.receiver = giveBack(r);
  }
}

/** A message as frames: text or binary, split into 1–3 frames, with a ping between two of them. */
const message = fc.record({
  binary: fc.boolean(),
  text: fc.string({ unit: 'grapheme', maxLength: 40 }),
  bytes: fc.uint8Array({ maxLength: 300 }),
  frames: fc.integer({ min: 1, max: 3 }),
  ping: fc.boolean(),
});

type Msg = typeof message extends fc.Arbitrary<infer T> ? T : never;

function wireOf(messages: Msg[]): Buffer {
  const frames: Buffer[] = [];
  for (const m of messages) {
    const payload = m.binary ? Buffer.from(m.bytes) : Buffer.from(m.text);
    // Cut at byte boundaries: a text message split mid-character is still valid as a whole.
    const cuts = Array.from({ length: m.frames - 1 }, (_, i) => Math.floor((payload.length * (i + 1)) / m.frames));
    const parts = [0, ...cuts, payload.length].slice(1).map((end, i, ends) => payload.subarray(i === 0 ? 0 : ends[i - 1], end));
    parts.forEach((part, i) => {
      frames.push(encodeFrame({ opcode: i === 0 ? (m.binary ? 2 : 1) : 0, fin: i === parts.length - 1, payload: part }));
      if (m.ping && i === 0) frames.push(encodeFrame({ opcode: 9, payload: 'p' }));
    });
  }
  return Buffer.concat(frames);
}

/** `wire` cut into chunks at the given points (each taken modulo its length). */
function chunksOf(wire: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => (wire.length === 0 ? 0 : p % wire.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...at, wire.length]) {
    if (p > from) chunks.push(Buffer.from(wire.subarray(from, p)));
    from = p;
  }
  return chunks;
}

const MESSAGES: ReceiverOptions = { expectMasked: true, maxPayload: 1 << 20, maxFragments: 100, frameMode: false };
const FRAMES: ReceiverOptions = { expectMasked: true, maxPayload: 1 << 20, maxFragments: 100, frameMode: true };

describe('a receiver given back between frames', () => {
  it('reports what one receiver kept for the whole connection reports, for two connections sharing the spares', () => {
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 6 }),
        fc.array(message, { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (first, second, cutsA, cutsB) => {
          const wireA = wireOf(first);
          const wireB = wireOf(second);
          // The reference: one receiver per connection, for its whole input at once.
          const refA = new Log();
          new Receiver(refA, MESSAGES).push(Buffer.from(wireA));
          const refB = new Log();
          new Receiver(refB, FRAMES).push(Buffer.from(wireB));

          const a = new Connection(MESSAGES);
          const b = new Connection(FRAMES);
          const chunksA = chunksOf(wireA, cutsA);
          const chunksB = chunksOf(wireB, cutsB);
          // Interleaved: a receiver one connection gives back is the next the other takes.
          for (let i = 0; i < Math.max(chunksA.length, chunksB.length); i++) {
            if (i < chunksA.length) a.push(chunksA[i]!);
            if (i < chunksB.length) b.push(chunksB[i]!);
          }
          expect(a.log.events).toEqual(refA.events);
          expect(b.log.events).toEqual(refB.events);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('takes the settings of the connection that takes it', () => {
    const lax = new Connection({ expectMasked: true, maxPayload: 1 << 20, maxFragments: 100, frameMode: false });
    lax.push(encodeFrame({ opcode: 1, payload: 'eleven byte' }));
    expect(lax.log.events).toEqual([`message t ${Buffer.from('eleven byte').toString('hex')}`]);

    // The spare lax just gave back now serves a connection that accepts 10 bytes at most.
    const strict = new Connection({ expectMasked: true, maxPayload: 10, maxFragments: 100, frameMode: false });
    strict.push(encodeFrame({ opcode: 1, payload: 'eleven byte' }));
    expect(strict.log.events).toEqual(['error ERR_PAYLOAD_TOO_LARGE 1009']);

    // And one on the client side, where frames must not be masked.
    const client = new Connection({ expectMasked: false, maxPayload: 1 << 20, maxFragments: 100, frameMode: false });
    client.push(encodeFrame({ opcode: 2, payload: 'x' }));
    expect(client.log.events).toEqual(['error ERR_MASKED_FRAME 1002']);
    expect(lax.log.events).toHaveLength(1);
  });

  it('is idle only with nothing partly received, and never once stopped', () => {
    const r = new Receiver(new Log(), MESSAGES);
    expect(r.isIdle).toBe(true);
    const frame = encodeFrame({ opcode: 2, payload: Buffer.alloc(200, 7) });
    r.push(Buffer.from(frame.subarray(0, 3))); // a header cut short
    expect(r.isIdle).toBe(false);
    r.push(Buffer.from(frame.subarray(3, 50))); // the payload under way
    expect(r.isIdle).toBe(false);
    r.push(Buffer.from(frame.subarray(50)));
    expect(r.isIdle).toBe(true);
    r.push(encodeFrame({ opcode: 1, fin: false, payload: 'first half' })); // a message under way
    expect(r.isIdle).toBe(false);
    r.push(encodeFrame({ opcode: 0, payload: ', second half' }));
    expect(r.isIdle).toBe(true);
    r.stop();
    expect(r.isIdle).toBe(false);
  });
});
