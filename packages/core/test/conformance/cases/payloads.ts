/** Payload makers shared by the case tables. */

/** Autobahn's text filler. */
export const stars = (n: number): string => '*'.repeat(n);

/** Autobahn's binary filler: 0xFE, which can never appear in UTF-8. */
export const fe = (n: number): Buffer => Buffer.alloc(n, 0xfe);

const PATTERN = Buffer.from('BAsd7&jh23 κόσμε € 😀 ', 'utf8');

/**
 * Exactly `n` bytes of valid UTF-8 mixing 1- to 4-byte code points, so that chops and fragment
 * boundaries fall inside code points (stricter than Autobahn's all-ASCII fillers).
 */
export function mixedText(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let at = 0; at < n; at += PATTERN.length) PATTERN.copy(out, at, 0, Math.min(PATTERN.length, n - at));
  // The last copy may stop inside a code point: replace that tail with ASCII.
  let end = n;
  while (end > 0 && (out[end - 1]! & 0xc0) === 0x80) end--;
  if (end > 0 && out[end - 1]! >= 0xc0) end--;
  else end = n;
  out.fill(0x2a, end);
  return out;
}

/** `n` bytes cycling through every byte value. */
export function allBytes(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + 3) & 0xff;
  return out;
}

/** Splits `b` into pieces of `size` bytes (the last may be shorter). */
export function pieces(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length; at += size) out.push(b.subarray(at, at + size));
  if (out.length === 0) out.push(b);
  return out;
}
