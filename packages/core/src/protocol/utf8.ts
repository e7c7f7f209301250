import { isUtf8 } from 'node:buffer';

/** Whole-buffer check; `buffer.isUtf8` is simdutf-backed, far faster than anything in JS. */
export function isValidUtf8(buf: Uint8Array): boolean {
  return buf.length === 0 || isUtf8(buf);
}

/**
 * Streaming UTF-8 validator for text that arrives in pieces (fragments, partial frames, inflated
 * output). It fails as soon as a byte makes the text invalid, even in the middle of a code point
 * whose remaining bytes have not arrived yet ("fail fast", as Autobahn's 6.4.x cases demand).
 *
 * The middle of each piece goes through `buffer.isUtf8`; only the at most 3 bytes of a code point
 * split across pieces are stepped through in JS.
 */
export class Utf8Validator {
  /** Continuation bytes still expected for the code point in progress. */
  private need = 0;
  /** Allowed range of the next continuation byte (narrower right after E0, ED, F0, F4). */
  private lo = 0x80;
  private hi = 0xbf;

  /** Validates `buf[start, end)`; false as soon as the text so far cannot be valid UTF-8. */
  push(buf: Uint8Array, start = 0, end = buf.length): boolean {
    let i = start;
    while (this.need > 0 && i < end) {
      if (!this.step(buf[i]!)) return false;
      i++;
    }
    if (i >= end) return true;

    // Find where an unfinished code point begins in the last 3 bytes, if one does.
    let tail = end;
    for (let j = end - 1; j >= i && j >= end - 3; j--) {
      const b = buf[j]!;
      if ((b & 0xc0) !== 0x80) {
        const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
        if (len > end - j) tail = j;
        break;
      }
    }
    if (tail > i && !isUtf8(buf.subarray(i, tail))) return false;
    for (let j = tail; j < end; j++) {
      if (!this.step(buf[j]!)) return false;
    }
    return true;
  }

  /** True when the text ended on a code point boundary. Resets for the next message. */
  end(): boolean {
    const ok = this.need === 0;
    this.reset();
    return ok;
  }

  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }

  private step(b: number): boolean {
    if (this.need > 0) {
      if (b < this.lo || b > this.hi) return false;
      this.lo = 0x80;
      this.hi = 0xbf;
      this.need--;
      return true;
    }
    if (b < 0x80) return true;
    if (b >= 0xc2 && b <= 0xdf) {
      this.need = 1;
    } else if (b === 0xe0) {
      this.need = 2;
      this.lo = 0xa0;
    } else if (b === 0xed) {
      // Excludes UTF-16 surrogates.
      this.need = 2;
      this.hi = 0x9f;
    } else if (b >= 0xe1 && b <= 0xef) {
      this.need = 2;
    } else if (b === 0xf0) {
      this.need = 3;
      this.lo = 0x90;
    } else if (b >= 0xf1 && b <= 0xf3) {
      this.need = 3;
    } else if (b === 0xf4) {
      // Caps code points at U+10FFFF.
      this.need = 3;
      this.hi = 0x8f;
    } else {
      return false;
    }
    return true;
  }
}

/** Whether `buf[start, end)` is all ASCII (every byte below 0x80). */
export function isAscii(buf: Uint8Array, start: number, end: number): boolean {
  let acc = 0;
  let i = start;
  for (const end4 = end - 3; i < end4; i += 4) acc |= buf[i]! | buf[i + 1]! | buf[i + 2]! | buf[i + 3]!;
  for (; i < end; i++) acc |= buf[i]!;
  return acc < 0x80;
}
