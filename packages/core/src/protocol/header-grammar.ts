/**
 * Header grammar: `Sec-WebSocket-Extensions` and `Sec-WebSocket-Protocol` values (RFC 6455 §9.1,
 * §11.3.4, with the token and quoted-string rules of RFC 7230 §3.2.6), and the extra header fields
 * an application adds to a handshake.
 */
import { typeError } from '../errors.js';
import { hasLineBreakOrNul, isToken, isTokenChar } from './validation.js';

/** One extension offer (or answer): its name and its parameters in the order they appeared. */
export interface ExtensionOffer {
  name: string;
  /** `[name, value]`; a parameter without a value has `true`. Duplicates are kept. */
  params: [string, string | true][];
}

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}

  ows(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09) break;
      this.pos++;
    }
  }

  token(): string | null {
    const start = this.pos;
    const s = this.s;
    while (this.pos < s.length && isTokenChar(s.charCodeAt(this.pos))) this.pos++;
    return this.pos > start ? s.slice(start, this.pos) : null;
  }

  /** quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE; returns the unescaped value. */
  quoted(): string | null {
    const s = this.s;
    if (s.charCodeAt(this.pos) !== 0x22) return null;
    this.pos++;
    let out = '';
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos++);
      if (c === 0x22) return out;
      if (c === 0x5c) {
        if (this.pos >= s.length) return null;
        const e = s.charCodeAt(this.pos++);
        // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        if (e !== 0x09 && (e < 0x20 || e === 0x7f)) return null;
        out += s[this.pos - 1];
        continue;
      }
      // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
      if (c !== 0x09 && (c < 0x20 || c === 0x7f)) return null;
      out += s[this.pos - 1];
    }
    return null;
  }

  peek(): number {
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1;
  }

  done(): boolean {
    return this.pos >= this.s.length;
  }
}

/**
 * Parses a `Sec-WebSocket-Extensions` value into offers, in order. Returns null when the value
 * breaks the grammar. Quoted parameter values must unescape to a token (RFC 6455 §9.1). Empty
 * list elements are skipped as RFC 7230 §7 asks of recipients.
 */
export function parseExtensions(value: string): ExtensionOffer[] | null {
  const sc = new Scanner(value);
  const offers: ExtensionOffer[] = [];
  for (;;) {
    sc.ows();
    if (sc.done()) break;
    if (sc.peek() === 0x2c) {
      sc.pos++;
      continue;
    }
    const name = sc.token();
    if (name === null) return null;
    const offer: ExtensionOffer = { name, params: [] };
    sc.ows();
    while (sc.peek() === 0x3b) {
      sc.pos++;
      sc.ows();
      const key = sc.token();
      if (key === null) return null;
      sc.ows();
      let val: string | true = true;
      if (sc.peek() === 0x3d) {
        sc.pos++;
        sc.ows();
        const v = sc.peek() === 0x22 ? sc.quoted() : sc.token();
        if (v === null || !isToken(v)) return null;
        val = v;
        sc.ows();
      }
      offer.params.push([key, val]);
    }
    offers.push(offer);
    if (sc.done()) break;
    if (sc.peek() !== 0x2c) return null;
    sc.pos++;
  }
  return offers;
}

/** Serializes offers back into a header value. */
export function formatExtensions(offers: readonly ExtensionOffer[]): string {
  return offers.map((o) => [o.name, ...o.params.map(([k, v]) => (v === true ? k : `${k}=${v}`))].join('; ')).join(', ');
}

/**
 * Parses a `Sec-WebSocket-Protocol` value (1#token). Returns null on a malformed value or a
 * repeated protocol.
 */
export function parseProtocols(value: string): string[] | null {
  const out: string[] = [];
  const sc = new Scanner(value);
  for (;;) {
    sc.ows();
    const tok = sc.token();
    if (tok === null) return null;
    if (out.includes(tok)) return null;
    out.push(tok);
    sc.ows();
    if (sc.done()) return out;
    if (sc.peek() !== 0x2c) return null;
    sc.pos++;
  }
}

/** Extra header fields for a handshake message: a value, or a list of values for a repeated field. */
export type HeaderFields = Readonly<Record<string, string | number | readonly string[]>>;

/**
 * Validates extra handshake header fields: names must be tokens, values strings or numbers without
 * CR, LF or NUL (a line break in a value would let it add fields of its own); surrounding
 * whitespace is not part of a value (RFC 7230 §3.2.4). Returns them as `[name, value]` pairs, a
 * repeated field once per value.
 *
 * @param reserved lower-case names the handshake sets itself, each with advice for the error
 *   (`''` for none).
 * @throws TypeError `ERR_INVALID_OPTION`.
 */
export function headerFields(headers: unknown, reserved: ReadonlyMap<string, string>): [name: string, value: string][] {
  if (headers === undefined || headers === null) return [];
  if (typeof headers !== 'object') throw typeError('headers must be an object');
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!isToken(name)) throw typeError(`invalid header name ${JSON.stringify(name)}`);
    const hint = reserved.get(name.toLowerCase());
    if (hint !== undefined) throw typeError(`header ${name} is set by the handshake itself${hint}`);
    const values: unknown[] = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v !== 'string' && typeof v !== 'number') throw typeError(`header ${name} must be a string, a number or a list of them`);
      const s = String(v);
      if (hasLineBreakOrNul(s)) throw typeError(`header ${name} contains CR, LF or NUL`);
      out.push([name, s.trim()]);
    }
  }
  return out;
}

/** Header fields as HTTP/1.1 header lines, each ending in CRLF. */
export function headerLines(fields: readonly (readonly [string, string])[]): string {
  let out = '';
  for (const [name, value] of fields) out += `${name}: ${value}\r\n`;
  return out;
}
