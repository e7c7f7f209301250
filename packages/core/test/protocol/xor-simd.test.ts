import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import wabtInit from 'wabt';
import { describe, expect, it } from 'vitest';
import { xorSimd } from '../../src/protocol/xor-simd.js';
import { longMaskResults } from './fixtures/long-mask-results.js';

const WAT = fileURLToPath(new URL('../../src/protocol/xor.wat', import.meta.url));
const SOURCE = fileURLToPath(new URL('../../src/protocol/xor-simd.ts', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/mask-without-wasm.ts', import.meta.url));

/** XOR with the word's bytes in memory order, one byte at a time: the definition. */
function naive(data: Uint8Array, word: number): Buffer {
  const out = Buffer.from(data);
  for (let i = 0; i < out.length; i++) out[i]! ^= (word >>> (8 * (i & 3))) & 0xff;
  return out;
}

function pattern(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (i * 167 + seed) & 0xff;
  return b;
}

describe('xorSimd', () => {
  it('embeds exactly the module xor.wat assembles to', async () => {
    const wabt = await wabtInit();
    const parsed = wabt.parseWat('xor.wat', readFileSync(WAT, 'utf8'), { simd: true });
    const assembled = Buffer.from(parsed.toBinary({}).buffer).toString('base64');
    parsed.destroy();
    // On a mismatch, paste the expected string into MODULE in xor-simd.ts.
    expect(readFileSync(SOURCE, 'utf8')).toContain(`'${assembled}'`);
  });

  it('XORs any range, in place or into another buffer, across its 16 KiB blocks', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.nat({ max: 600 }), fc.integer({ min: 16_000, max: 50_000 }), fc.integer({ min: 65_000, max: 140_000 })),
        fc.nat({ max: 15 }),
        fc.nat({ max: 15 }),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.boolean(),
        (length, srcAt, dstAt, word, inPlace) => {
          const src = pattern(srcAt + length + 5, word & 0xff);
          const original = Buffer.from(src);
          const dst = inPlace ? src : Buffer.alloc(dstAt + length + 5);
          const at = inPlace ? srcAt : dstAt;
          expect(xorSimd(src, srcAt, srcAt + length, dst, at, word)).toBe(true);
          // Buffer.equals, not toEqual: an element-wise diff of 100 KiB buffers takes seconds.
          expect(dst.subarray(at, at + length).equals(naive(original.subarray(srcAt, srcAt + length), word))).toBe(true);
          // Nothing outside the range moves.
          expect(dst.subarray(0, at).equals(inPlace ? original.subarray(0, at) : Buffer.alloc(at))).toBe(true);
          expect(dst.subarray(at + length).equals(inPlace ? original.subarray(at + length) : Buffer.alloc(5))).toBe(true);
          if (!inPlace) expect(src.equals(original)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('leaves unmask and maskInto with the same results where WebAssembly does not exist (--jitless)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--jitless', '--import', 'tsx', FIXTURE], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
    });
    const out = JSON.parse(stdout) as { wasm: string; simd: boolean; phase: number; inPlace: string; copied: string };
    expect(out.wasm).toBe('undefined');
    expect(out.simd).toBe(false);

    // The same calls in this process, where the SIMD path runs.
    const here = longMaskResults();
    expect(out.phase).toBe(here.phase);
    expect(out.inPlace).toBe(here.inPlace);
    expect(out.copied).toBe(here.copied);
  });
});
