import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskInto, unmask, unmaskAscii, writeMaskKey } from '../../src/protocol/mask.js';

const keyOf = (k: Uint8Array) => ((k[0]! << 24) | (k[1]! << 16) | (k[2]! << 8) | k[3]!) >>> 0;

/** Payloads on both sides of the WebAssembly threshold (512 bytes): short ones up to `shortMax`, long ones from `longMin`. */
const payloads = (shortMax: number, longMin = 500) =>
  fc.oneof(fc.uint8Array({ maxLength: shortMax }), fc.uint8Array({ minLength: longMin, maxLength: 3000 }));

function naive(data: Uint8Array, key: Uint8Array, phase: number): Buffer {
  const out = Buffer.from(data);
  for (let i = 0; i < out.length; i++) out[i]! ^= key[(i + phase) & 3]!;
  return out;
}

describe('masking', () => {
  it('unmask in place equals the byte-by-byte definition at any alignment, length and phase', () => {
    fc.assert(
      fc.property(
        payloads(300, 480),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat({ max: 7 }),
        fc.nat({ max: 3 }),
        (data, key, offset, phase) => {
          // Place the data at an arbitrary offset so every alignment of the word loop is used.
          const backing = Buffer.alloc(data.length + offset + 8);
          backing.set(data, offset);
          const end = unmask(backing, offset, offset + data.length, keyOf(key), phase);
          expect(Buffer.from(backing.subarray(offset, offset + data.length))).toEqual(naive(data, key, phase));
          expect(end).toBe((phase + data.length) & 3);
          expect(backing.subarray(0, offset).every((b) => b === 0)).toBe(true);
          expect(backing.subarray(offset + data.length).every((b) => b === 0)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('unmaskAscii unmasks in place as unmask does and tells whether every unmasked byte is ASCII', () => {
    fc.assert(
      fc.property(
        // Mostly ASCII once unmasked, sometimes with one byte of 0x80 or above anywhere.
        fc.uint8Array({ max: 0x7f, maxLength: 300 }),
        fc.option(fc.tuple(fc.nat(), fc.oneof(fc.constant(0x80), fc.integer({ min: 0x81, max: 0xff }))), { freq: 2 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat({ max: 7 }),
        (plain, high, key, offset) => {
          if (high !== null && plain.length > 0) plain[high[0] % plain.length] = high[1];
          const masked = naive(plain, key, 0);
          const backing = Buffer.alloc(plain.length + offset + 8);
          backing.set(masked, offset);
          const ascii = unmaskAscii(backing, offset, offset + plain.length, keyOf(key));
          expect(Buffer.from(backing.subarray(offset, offset + plain.length))).toEqual(Buffer.from(plain));
          expect(ascii).toBe(plain.every((b) => b < 0x80));
          expect(backing.subarray(0, offset).every((b) => b === 0)).toBe(true);
          expect(backing.subarray(offset + plain.length).every((b) => b === 0)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('unmasking a payload piece by piece equals unmasking it whole', () => {
    fc.assert(
      fc.property(payloads(500), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.array(fc.nat({ max: 3000 })), (data, key, cuts) => {
        const buf = Buffer.from(data);
        let phase = 0;
        let at = 0;
        for (const c of [...new Set(cuts)].sort((a, b) => a - b)) {
          if (c <= at || c >= buf.length) continue;
          phase = unmask(buf, at, c, keyOf(key), phase);
          at = c;
        }
        unmask(buf, at, buf.length, keyOf(key), phase);
        expect(buf).toEqual(naive(data, key, 0));
      }),
    );
  });

  it('maskInto copies masked bytes from any phase of the key and leaves the source alone', () => {
    fc.assert(
      fc.property(
        payloads(200),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat({ max: 3 }),
        fc.nat({ max: 7 }),
        (data, key, phase, dstAt) => {
          const src = Buffer.from(data);
          const dst = Buffer.alloc(src.length + dstAt);
          maskInto(src, 0, src.length, dst, dstAt, keyOf(key), phase);
          expect(Buffer.from(dst.subarray(dstAt))).toEqual(naive(data, key, phase));
          expect(dst.subarray(0, dstAt).every((b) => b === 0)).toBe(true);
          expect(src).toEqual(Buffer.from(data));
        },
      ),
    );
  });

  it('writes fresh mask keys', () => {
    const seen = new Set<string>();
    const b = Buffer.alloc(4);
    for (let i = 0; i < 5000; i++) {
      const key = writeMaskKey(b, 0);
      expect(key).toBe(b.readUInt32BE(0));
      seen.add(b.toString('hex'));
    }
    // 5000 random 32-bit keys collide with negligible probability.
    expect(seen.size).toBeGreaterThan(4990);
  });
});
