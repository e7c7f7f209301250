/**
 * Fuzz properties of the Receiver (the frame parser) beyond frame-parser.test.ts (which checks split invariance of
 * valid streams and random bytes): corrupted streams under random splits in every parser mode,
 * the limits on what is delivered, memory bounded by maxPayload whatever length a header claims,
 * and a model check that what was encoded is what comes out.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WebSocketError } from '../../src/errors.js';
import { Receiver, type MessageDecompressor, type ReceiverHandler } from '../../src/protocol/receiver.js';
import { encodeFrame, type FrameSpec } from '../conformance/wire.js';
import { check, propertyTimeout } from './budget.js';

type Event =
  | { kind: 'message'; binary: boolean; data: string }
  | { kind: 'fragment'; binary: boolean; data: string; fin: boolean }
  | { kind: 'compressed'; binary: boolean; data: string; fin: boolean }
  | { kind: 'control'; opcode: number; data: string }
  | { kind: 'error'; code: string; closeCode: number | undefined };

/**
 * Records what the receiver delivers; as the decompressor of compressed messages it joins their
 * pieces per frame (and delivers nothing), so splits don't show.
 */
class Recorder implements ReceiverHandler, MessageDecompressor {
  events: Event[] = [];
  readonly heldBytes = 0;
  private pieces: Buffer[] = [];
  // Short ASCII text comes decoded; recorded as its bytes, like any other message.
  onMessage(binary: boolean, data: Buffer | string): void {
    this.events.push({ kind: 'message', binary, data: Buffer.from(data).toString('hex') });
  }
  onFragment(binary: boolean, data: Buffer, fin: boolean): void {
    this.events.push({ kind: 'fragment', binary, data: data.toString('hex'), fin });
  }
  push(binary: boolean, piece: Buffer, frameEnd: boolean, fin: boolean): null {
    this.pieces.push(Buffer.from(piece));
    if (frameEnd) {
      this.events.push({ kind: 'compressed', binary, data: Buffer.concat(this.pieces).toString('hex'), fin });
      this.pieces = [];
    }
    return null;
  }
  reset(): void {
    this.pieces = [];
  }
  onControl(opcode: number, data: Buffer): void {
    this.events.push({ kind: 'control', opcode, data: data.toString('hex') });
  }
  onError(err: WebSocketError): void {
    this.events.push({ kind: 'error', code: err.code, closeCode: err.closeCode });
  }
  // Its decompressor never hands out inflated bytes, so the receiver never defers.
  onDeferred(): void {}
}

interface Mode {
  client: boolean;
  frameMode: boolean;
  rsv1Allowed: boolean;
  maxPayload: number;
  maxFragments: number;
}

const modeArb: fc.Arbitrary<Mode> = fc.record({
  client: fc.boolean(),
  frameMode: fc.boolean(),
  rsv1Allowed: fc.boolean(),
  maxPayload: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.constant(1 << 16)),
  maxFragments: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constant(1000)),
});

/** Feeds `input` (a private copy: the parser unmasks in place) cut at `cuts`. */
function parse(input: Buffer, cuts: number[], mode: Mode): Event[] {
  const rec = new Recorder();
  const parser = new Receiver(rec, {
    expectMasked: !mode.client,
    maxPayload: mode.maxPayload,
    maxFragments: mode.maxFragments,
    frameMode: mode.frameMode,
    decompressor: mode.rsv1Allowed ? rec : undefined,
  });
  const copy = Buffer.from(input);
  let at = 0;
  for (const c of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (c <= at || c >= copy.length) continue;
    parser.push(copy.subarray(at, c));
    at = c;
  }
  if (at < copy.length) parser.push(copy.subarray(at));
  return rec.events;
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

/** Frames of every kind, well-formed or not: any opcode, any RSV, masked or not, fin or not. */
const anyFrame: fc.Arbitrary<FrameSpec> = fc.record({
  opcode: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1, 2, 8, 9, 10) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
  payload: fc.oneof(
    bytes(40),
    fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => Buffer.from(s)),
  ),
  fin: fc.boolean(),
  rsv: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }) }),
  mask: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  lengthBits: fc.constantFrom(undefined, 16, 64),
});

const corruption = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 });
const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

/** Expected opcodes of what the parser may deliver, for the limit checks. */
function checkLimits(events: Event[], mode: Mode): void {
  const errors = events.filter((e) => e.kind === 'error');
  expect(errors.length).toBeLessThanOrEqual(1);
  if (errors.length === 1) expect(events.at(-1)!.kind).toBe('error');
  for (const e of events) {
    if (e.kind === 'message' || e.kind === 'fragment') expect(e.data.length / 2).toBeLessThanOrEqual(mode.maxPayload);
    if (e.kind === 'control') {
      expect([8, 9, 10]).toContain(e.opcode);
      expect(e.data.length / 2).toBeLessThanOrEqual(125);
    }
    if (e.kind === 'compressed') expect(mode.rsv1Allowed).toBe(true);
  }
}

/**
 * Tracks every Buffer.allocUnsafe* call made during `fn` (the parser's only way to allocate), so
 * that memory held by a parser can be bounded without reaching into its private fields.
 */
function largestAllocation(fn: () => void): number {
  const orig = { unsafe: Buffer.allocUnsafe, slow: Buffer.allocUnsafeSlow, alloc: Buffer.alloc };
  let largest = 0;
  const note = (n: number) => {
    largest = Math.max(largest, n);
  };
  Buffer.allocUnsafe = ((n: number) => {
    note(n);
    return orig.unsafe(n);
  }) as typeof Buffer.allocUnsafe;
  Buffer.allocUnsafeSlow = ((n: number) => {
    note(n);
    return orig.slow(n);
  }) as typeof Buffer.allocUnsafeSlow;
  Buffer.alloc = ((n: number, ...rest: never[]) => {
    note(n);
    return orig.alloc(n, ...rest);
  }) as typeof Buffer.alloc;
  try {
    fn();
  } finally {
    Buffer.allocUnsafe = orig.unsafe;
    Buffer.allocUnsafeSlow = orig.slow;
    Buffer.alloc = orig.alloc;
  }
  return largest;
}

/** A frame header claiming `length` bytes, optionally masked, with RSV and opcode as given. */
function header(b0: number, length: bigint, masked: boolean): Buffer {
  const h = Buffer.alloc(10 + (masked ? 4 : 0));
  h[0] = b0;
  h[1] = (masked ? 0x80 : 0) | 127;
  h.writeBigUInt64BE(length, 2);
  return h;
}

/** A message and how it is cut into frames, with control frames between them. */
const messageArb = fc.record({
  content: fc.oneof(
    bytes(300).map((data) => ({ binary: true, data })),
    fc.string({ unit: 'grapheme', maxLength: 80 }).map((s) => ({ binary: false, data: Buffer.from(s) })),
  ),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
  pings: fc.array(bytes(20), { maxLength: 3 }),
});

export function frameParserProperties(): void {
  describe('Receiver (frame parser) fuzzing', () => {
    it(
      'corrupted streams: same events for any split, in every mode, within the limits',
      () => {
        check(
          'parser: corrupted streams, any split',
          fc.property(fc.array(anyFrame, { maxLength: 10 }), corruption, cutsArb, modeArb, (frames, flips, cuts, mode) => {
            const input = Buffer.concat(frames.map((f) => encodeFrame(f, !mode.client)));
            for (const [pos, val] of flips) if (input.length > 0) input[pos % input.length] = val;
            const whole = parse(input, [], mode);
            const split = parse(
              input,
              cuts.map((c) => c % (input.length + 1)),
              mode,
            );
            expect(split).toEqual(whole);
            checkLimits(whole, mode);
          }),
          300,
        );
      },
      propertyTimeout,
    );

    it(
      'octet by octet gives the same events as all at once, in every mode',
      () => {
        check(
          'parser: octet by octet',
          fc.property(fc.array(anyFrame, { maxLength: 6 }), corruption, modeArb, (frames, flips, mode) => {
            const input = Buffer.concat(frames.map((f) => encodeFrame(f, !mode.client)));
            for (const [pos, val] of flips) if (input.length > 0) input[pos % input.length] = val;
            expect(
              parse(
                input,
                Array.from({ length: input.length }, (_, i) => i),
                mode,
              ),
            ).toEqual(parse(input, [], mode));
          }),
          100,
        );
      },
      propertyTimeout,
    );

    it(
      'delivers exactly the messages and control frames that were encoded, whatever the cuts',
      () => {
        check(
          'parser: model round trip',
          fc.property(fc.array(messageArb, { maxLength: 6 }), cutsArb, fc.boolean(), (messages, cuts, client) => {
            const frames: FrameSpec[] = [];
            const expected: Event[] = [];
            for (const { content: m, cuts: mcuts, pings } of messages) {
              const points = [...new Set(mcuts.map((c) => c % (m.data.length + 1)))].sort((a, b) => a - b);
              const parts: Buffer[] = [];
              let prev = 0;
              for (const p of [...points, m.data.length]) {
                parts.push(m.data.subarray(prev, p));
                prev = p;
              }
              parts.forEach((part, i) => {
                frames.push({ opcode: i === 0 ? (m.binary ? 2 : 1) : 0, payload: part, fin: i === parts.length - 1 });
                const ping = pings[i];
                if (ping && i < parts.length - 1) {
                  frames.push({ opcode: 9, payload: ping });
                  expected.push({ kind: 'control', opcode: 9, data: ping.toString('hex') });
                }
              });
              expected.push({ kind: 'message', binary: m.binary, data: m.data.toString('hex') });
            }
            const input = Buffer.concat(frames.map((f) => encodeFrame(f, !client)));
            const mode: Mode = { client, frameMode: false, rsv1Allowed: false, maxPayload: 1 << 20, maxFragments: 1000 };
            expect(
              parse(
                input,
                cuts.map((c) => c % (input.length + 1)),
                mode,
              ),
            ).toEqual(expected);
          }),
          200,
        );
      },
      propertyTimeout,
    );

    it(
      'never allocates more than maxPayload, whatever length a header claims',
      () => {
        check(
          'parser: memory bounded by maxPayload',
          fc.property(
            fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
            fc.constantFrom(0x81, 0x82, 0x01, 0x02, 0x00),
            fc.integer({ min: 1, max: 1 << 20 }),
            bytes(64),
            fc.boolean(),
            (length, b0, maxPayload, some, frameMode) => {
              const mode: Mode = { client: false, frameMode, rsv1Allowed: false, maxPayload, maxFragments: 1000 };
              // A fragment first, so that continuation headers are legal too.
              const start = encodeFrame({ opcode: 2, payload: Buffer.alloc(1), fin: false }, true);
              const input = Buffer.concat([b0 === 0x00 ? start : Buffer.alloc(0), header(b0, length, true), Buffer.alloc(4), some]);
              let events: Event[] = [];
              const largest = largestAllocation(() => {
                events = parse(input, [], mode);
              });
              expect(largest).toBeLessThanOrEqual(Math.max(maxPayload, 14));
              checkLimits(events, mode);
            },
          ),
          300,
        );
      },
      propertyTimeout,
    );

    // Was a crash: payloadPiece allocated the whole announced length up front, so with
    // maxPayload: Infinity a header announcing more than buffer.constants.MAX_LENGTH threw
    // ERR_OUT_OF_RANGE out of the socket's 'data' handler. Now the announcement fails with 1009.
    it('with maxPayload: Infinity, a frame announcing 8 GiB with 1 byte sent fails with 1009 instead of throwing', () => {
      const mode: Mode = { client: false, frameMode: false, rsv1Allowed: false, maxPayload: Infinity, maxFragments: Infinity };
      const input = Buffer.concat([header(0x82, 8n << 30n, true), Buffer.alloc(4), Buffer.from([1])]);
      let events: unknown[] = [];
      expect(() => (events = parse(input, [], mode) as unknown[])).not.toThrow();
      expect(JSON.stringify(events)).toContain('1009');
    });
  });
}
