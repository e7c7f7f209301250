import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Receiver, type ReceiverHandler } from '../../src/protocol/receiver.js';
import type { WebSocketError } from '../../src/errors.js';
import { closePayload, encodeFrame, type FrameSpec } from '../helpers/raw.js';

type Event =
  | { kind: 'message'; binary: boolean; data: string }
  | { kind: 'fragment'; binary: boolean; data: string; fin: boolean }
  | { kind: 'control'; opcode: number; data: string }
  | { kind: 'error'; code: string; closeCode: number | undefined };

class Recorder implements ReceiverHandler {
  events: Event[] = [];
  // Short ASCII text comes decoded; recorded as its bytes, like any other message.
  onMessage(binary: boolean, data: Buffer | string): void {
    this.events.push({ kind: 'message', binary, data: Buffer.from(data).toString('hex') });
  }
  onFragment(binary: boolean, data: Buffer, fin: boolean): void {
    this.events.push({ kind: 'fragment', binary, data: data.toString('hex'), fin });
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

interface ParseOpts {
  client?: boolean;
  maxPayload?: number;
  maxFragments?: number;
  frameMode?: boolean;
}

function parse(input: Buffer, splits: number[] = [], opts: ParseOpts = {}): Event[] {
  const rec = new Recorder();
  const parser = new Receiver(rec, {
    expectMasked: !opts.client,
    maxPayload: opts.maxPayload ?? 1 << 20,
    maxFragments: opts.maxFragments ?? 1000,
    frameMode: opts.frameMode ?? false,
  });
  // The parser unmasks in place: give it a private copy, cut at the split points.
  const copy = Buffer.from(input);
  let at = 0;
  for (const s of [...splits].sort((a, b) => a - b)) {
    if (s <= at || s >= copy.length) continue;
    parser.push(copy.subarray(at, s));
    at = s;
  }
  if (at < copy.length) parser.push(copy.subarray(at));
  return rec.events;
}

const frames = (...specs: FrameSpec[]) => Buffer.concat(specs.map(encodeFrame));
const hex = (s: string | Buffer) => Buffer.from(s).toString('hex');
const errorOf = (events: Event[]) => events.find((e) => e.kind === 'error') as Extract<Event, { kind: 'error' }> | undefined;

describe('frame parser: valid input', () => {
  it('decodes text and binary frames at every length encoding boundary', () => {
    for (const len of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
      const payload = Buffer.alloc(len, 0x61);
      const ev = parse(frames({ opcode: 2, payload }, { opcode: 1, payload }));
      expect(ev).toEqual([
        { kind: 'message', binary: true, data: payload.toString('hex') },
        { kind: 'message', binary: false, data: payload.toString('hex') },
      ]);
    }
  });

  it('accepts non-minimal length encodings', () => {
    const ev = parse(frames({ opcode: 1, payload: 'hi', lengthBits: 16 }, { opcode: 1, payload: 'yo', lengthBits: 64 }));
    expect(ev.map((e) => e.kind === 'message' && e.data)).toEqual([hex('hi'), hex('yo')]);
  });

  it('reassembles fragments with control frames interleaved', () => {
    const ev = parse(
      frames(
        { opcode: 1, fin: false, payload: 'Hel' },
        { opcode: 9, payload: 'p1' },
        { opcode: 0, fin: false, payload: 'lo, ' },
        { opcode: 10, payload: 'p2' },
        { opcode: 0, fin: true, payload: 'wörld' },
      ),
    );
    expect(ev).toEqual([
      { kind: 'control', opcode: 9, data: hex('p1') },
      { kind: 'control', opcode: 10, data: hex('p2') },
      { kind: 'message', binary: false, data: hex('Hello, wörld') },
    ]);
  });

  it('accepts a multi-byte character split across fragments', () => {
    const euro = Buffer.from('€');
    const ev = parse(frames({ opcode: 1, fin: false, payload: euro.subarray(0, 1) }, { opcode: 0, payload: euro.subarray(1) }));
    expect(ev).toEqual([{ kind: 'message', binary: false, data: euro.toString('hex') }]);
  });

  it('accepts unmasked frames on the client side', () => {
    const ev = parse(frames({ opcode: 1, payload: 'srv', mask: false }), [], { client: true });
    expect(ev).toEqual([{ kind: 'message', binary: false, data: hex('srv') }]);
  });

  it('in frame mode yields each data frame with fin', () => {
    const ev = parse(
      frames({ opcode: 2, fin: false, payload: 'ab' }, { opcode: 0, fin: false, payload: 'cd' }, { opcode: 0, payload: 'e' }),
      [],
      {
        frameMode: true,
      },
    );
    expect(ev).toEqual([
      { kind: 'fragment', binary: true, data: hex('ab'), fin: false },
      { kind: 'fragment', binary: true, data: hex('cd'), fin: false },
      { kind: 'fragment', binary: true, data: hex('e'), fin: true },
    ]);
  });

  it('accepts exactly maxPayload bytes and exactly maxFragments frames', () => {
    expect(parse(frames({ opcode: 2, payload: Buffer.alloc(100) }), [], { maxPayload: 100 })[0]?.kind).toBe('message');
    const ev = parse(
      frames({ opcode: 2, fin: false, payload: 'a' }, { opcode: 0, fin: false, payload: 'b' }, { opcode: 0, payload: 'c' }),
      [],
      {
        maxFragments: 3,
      },
    );
    expect(ev).toEqual([{ kind: 'message', binary: true, data: hex('abc') }]);
  });
});

describe('frame parser: protocol violations', () => {
  const cases: [string, Buffer, string, number, ParseOpts?][] = [
    ['RSV1 without an extension', frames({ opcode: 1, rsv: 4, payload: 'x' }), 'ERR_RESERVED_BITS', 1002],
    ['RSV2', frames({ opcode: 1, rsv: 2, payload: 'x' }), 'ERR_RESERVED_BITS', 1002],
    ['RSV3', frames({ opcode: 1, rsv: 1, payload: 'x' }), 'ERR_RESERVED_BITS', 1002],
    ['reserved data opcode 3', frames({ opcode: 3 }), 'ERR_INVALID_OPCODE', 1002],
    ['reserved data opcode 7', frames({ opcode: 7 }), 'ERR_INVALID_OPCODE', 1002],
    ['reserved control opcode 11', frames({ opcode: 11 }), 'ERR_INVALID_OPCODE', 1002],
    ['reserved control opcode 15', frames({ opcode: 15 }), 'ERR_INVALID_OPCODE', 1002],
    ['unmasked client frame', frames({ opcode: 1, payload: 'x', mask: false }), 'ERR_UNMASKED_FRAME', 1002],
    ['masked server frame', frames({ opcode: 1, payload: 'x' }), 'ERR_MASKED_FRAME', 1002, { client: true }],
    ['ping over 125 bytes', frames({ opcode: 9, payload: Buffer.alloc(126) }), 'ERR_CONTROL_FRAME_TOO_LONG', 1002],
    ['fragmented ping', frames({ opcode: 9, fin: false }), 'ERR_FRAGMENTED_CONTROL_FRAME', 1002],
    ['fragmented close', frames({ opcode: 8, fin: false }), 'ERR_FRAGMENTED_CONTROL_FRAME', 1002],
    ['continuation without a message', frames({ opcode: 0, payload: 'x' }), 'ERR_UNEXPECTED_CONTINUATION', 1002],
    [
      'new message inside a fragmented one',
      frames({ opcode: 1, fin: false, payload: 'a' }, { opcode: 1, payload: 'b' }),
      'ERR_EXPECTED_CONTINUATION',
      1002,
    ],
    ['64-bit length with the top bit set', Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]), 'ERR_INVALID_LENGTH', 1002],
    ['invalid UTF-8 in a text frame', frames({ opcode: 1, payload: Buffer.from([0xce, 0xba, 0xff]) }), 'ERR_INVALID_UTF8', 1007],
    ['text ending inside a code point', frames({ opcode: 1, payload: Buffer.from([0xe2, 0x82]) }), 'ERR_INVALID_UTF8', 1007],
    [
      'fragmented text ending inside a code point',
      frames({ opcode: 1, fin: false, payload: 'ok' }, { opcode: 0, payload: Buffer.from([0xe2]) }),
      'ERR_INVALID_UTF8',
      1007,
    ],
    ['message over maxPayload', frames({ opcode: 2, payload: Buffer.alloc(101) }), 'ERR_PAYLOAD_TOO_LARGE', 1009, { maxPayload: 100 }],
    [
      'fragments together over maxPayload',
      frames({ opcode: 2, fin: false, payload: Buffer.alloc(60) }, { opcode: 0, payload: Buffer.alloc(60) }),
      'ERR_PAYLOAD_TOO_LARGE',
      1009,
      { maxPayload: 100 },
    ],
    [
      'more fragments than maxFragments',
      frames({ opcode: 2, fin: false }, { opcode: 0, fin: false }, { opcode: 0, fin: false }, { opcode: 0 }),
      'ERR_TOO_MANY_FRAGMENTS',
      1009,
      { maxFragments: 3 },
    ],
  ];

  for (const [name, input, code, closeCode, opts] of cases) {
    it(`${name} → ${closeCode} ${code}`, () => {
      for (const splits of [[], [1], [2, 3, 5]]) {
        const ev = parse(input, splits, opts);
        expect(ev.at(-1)).toEqual({ kind: 'error', code, closeCode });
        expect(ev.filter((e) => e.kind === 'error')).toHaveLength(1);
      }
    });
  }

  it('fails on a bad header before any of its payload arrives', () => {
    // 64 KiB frame announced with RSV2: only the header is given.
    const ev = parse(Buffer.from([0xa2, 0xfe, 0xff, 0xff]));
    expect(errorOf(ev)?.code).toBe('ERR_RESERVED_BITS');
  });

  it('rejects an oversized message from its header alone', () => {
    const ev = parse(Buffer.from([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0]), [], { maxPayload: 1 << 20 });
    expect(errorOf(ev)?.closeCode).toBe(1009);
  });

  it('fails fast on invalid UTF-8 inside a frame whose end has not arrived', () => {
    const payload = Buffer.concat([Buffer.from('valid text '), Buffer.from([0xc0, 0xaf]), Buffer.alloc(1000, 0x61)]);
    const whole = frames({ opcode: 1, payload });
    // Deliver only the header and the first 20 payload bytes.
    const ev = parse(whole.subarray(0, 8 + 20));
    expect(errorOf(ev)).toEqual({ kind: 'error', code: 'ERR_INVALID_UTF8', closeCode: 1007 });
  });

  it('fails fast on a code point that cannot become valid, before its last byte', () => {
    // F4 90 starts a code point above U+10FFFF.
    const first = frames({ opcode: 1, fin: false, payload: 'κόσμε' });
    const second = frames({ opcode: 0, fin: false, payload: Buffer.from([0xf4, 0x90]) });
    const ev = parse(Buffer.concat([first, second]));
    expect(errorOf(ev)?.code).toBe('ERR_INVALID_UTF8');
  });

  it('ignores everything after an error', () => {
    const ev = parse(frames({ opcode: 3 }, { opcode: 1, payload: 'after' }));
    expect(ev).toEqual([{ kind: 'error', code: 'ERR_INVALID_OPCODE', closeCode: 1002 }]);
  });

  it('passes close frames through with their payload', () => {
    const ev = parse(frames({ opcode: 8, payload: closePayload(1000, 'bye') }));
    expect(ev).toEqual([{ kind: 'control', opcode: 8, data: closePayload(1000, 'bye').toString('hex') }]);
  });
});

const frameSpec: fc.Arbitrary<FrameSpec[]> = fc
  .array(
    fc.oneof(
      fc.record({ opcode: fc.constant(2), payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) }),
      // Long enough for the WebAssembly unmasking, in place and while joining pieces.
      fc.record({ opcode: fc.constant(2), payload: fc.uint8Array({ minLength: 512, maxLength: 3000 }).map((a) => Buffer.from(a)) }),
      fc.record({ opcode: fc.constant(1), payload: fc.string({ unit: 'grapheme', maxLength: 100 }) }),
      fc.record({ opcode: fc.constant(9), payload: fc.uint8Array({ maxLength: 125 }).map((a) => Buffer.from(a)) }),
      // A fragmented text message of 2–4 pieces cut at arbitrary byte positions.
      fc
        .tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }), fc.array(fc.nat(), { minLength: 1, maxLength: 3 }))
        .map(([s, cuts]) => {
          const b = Buffer.from(s);
          const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
          const parts: Buffer[] = [];
          let prev = 0;
          for (const p of points) {
            parts.push(b.subarray(prev, p));
            prev = p;
          }
          parts.push(b.subarray(prev));
          return { fragments: parts };
        }),
    ),
    { maxLength: 12 },
  )
  .map((items) =>
    items.flatMap((item): FrameSpec[] =>
      'fragments' in item
        ? item.fragments.map((payload, i, all) => ({ opcode: i === 0 ? 1 : 0, fin: i === all.length - 1, payload }))
        : [item as FrameSpec],
    ),
  );

describe('frame parser: properties', () => {
  it('gives identical results for any split of the input', () => {
    fc.assert(
      fc.property(frameSpec, fc.array(fc.nat(), { maxLength: 20 }), (specs, cuts) => {
        const input = frames(...specs);
        const whole = parse(input);
        const split = parse(
          input,
          cuts.map((c) => c % (input.length + 1)),
        );
        expect(split).toEqual(whole);
        expect(whole.some((e) => e.kind === 'error')).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('gives identical results one byte at a time', () => {
    fc.assert(
      fc.property(frameSpec, (specs) => {
        const input = frames(...specs);
        const bytes = Array.from({ length: input.length }, (_, i) => i);
        expect(parse(input, bytes)).toEqual(parse(input));
      }),
      { numRuns: 100 },
    );
  });

  it('never throws and always terminates on random bytes, in any split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (bytes, cuts, client) => {
        const input = Buffer.from(bytes);
        const whole = parse(input, [], { client, maxPayload: 1 << 16 });
        const split = parse(
          input,
          cuts.map((c) => c % (input.length + 1)),
          { client, maxPayload: 1 << 16 },
        );
        expect(split).toEqual(whole);
        expect(whole.filter((e) => e.kind === 'error').length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on corrupted valid streams', () => {
    fc.assert(
      fc.property(frameSpec, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }), (specs, flips) => {
        const input = frames(...specs);
        if (input.length === 0) return;
        for (const [pos, val] of flips) input[pos % input.length] = val;
        const events = parse(input);
        expect(Array.isArray(events)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
