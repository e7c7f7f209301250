import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Utf8Validator } from '../../src/protocol/utf8.js';

function streamValid(buf: Buffer, cuts: number[]): boolean {
  const v = new Utf8Validator();
  let at = 0;
  for (const c of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (c <= at || c >= buf.length) continue;
    if (!v.push(buf, at, c)) return false;
    at = c;
  }
  if (!v.push(buf, at, buf.length)) return false;
  return v.end();
}

/** The index of the first byte after which no continuation can make the text valid. */
function firstFailure(buf: Buffer): number {
  const v = new Utf8Validator();
  for (let i = 0; i < buf.length; i++) if (!v.push(buf, i, i + 1)) return i;
  return -1;
}

describe('streaming UTF-8 validation', () => {
  it('agrees with buffer.isUtf8 for any split of random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.nat({ max: 64 }), { maxLength: 6 }), (bytes, cuts) => {
        const buf = Buffer.from(bytes);
        expect(streamValid(buf, cuts)).toBe(isUtf8(buf));
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts any valid string split anywhere, even inside code points', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.array(fc.nat({ max: 400 }), { maxLength: 8 }), (s, cuts) => {
        expect(streamValid(Buffer.from(s), cuts)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('fails at the first byte that makes the text invalid, not at the end', () => {
    const cases: [number[], number][] = [
      [[0x61, 0xff, 0x61], 1],
      [[0xc0, 0x80], 0], // overlong 2-byte lead
      [[0xe0, 0x80], 1], // overlong 3-byte: E0 needs A0–BF next
      [[0xed, 0xa0, 0x80], 1], // surrogate
      [[0xf4, 0x90, 0x80, 0x80], 1], // above U+10FFFF
      [[0xf5], 0],
      [[0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64], 12],
    ];
    for (const [bytes, at] of cases) expect(firstFailure(Buffer.from(bytes))).toBe(at);
  });

  it('reports an unfinished code point at the end of the text', () => {
    const v = new Utf8Validator();
    expect(v.push(Buffer.from([0xe2, 0x82]))).toBe(true);
    expect(v.end()).toBe(false);
    // end() resets, so the validator serves the next message.
    expect(v.push(Buffer.from('ok'))).toBe(true);
    expect(v.end()).toBe(true);
  });
});
