/**
 * The protocol's predicates in one place: which close codes may be sent, what a token is, what a
 * key looks like, which characters a header may not carry.
 */

/**
 * Whether a close code may appear in a close frame. Follows the codes that RFC 6455 §7.4.1 defines
 * for use on the wire plus the application ranges (§7.4.2); 1012–1014 (registered later by IANA)
 * and other unassigned codes are rejected the way the Autobahn suite judges strict implementations.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
// (RFC 7230 §3.2.6)
const TCHAR = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

/** Whether the character code `c` may appear in an RFC 7230 token. */
export function isTokenChar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

/** Whether `s` is a non-empty RFC 7230 token (header names, subprotocols, extension names). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

/**
 * Whether a comma-separated header value (`Connection`, `Upgrade`) lists `token`, compared
 * case-insensitively (RFC 7230 §6.1, §6.7). `token` must be given in lower case.
 */
export function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  // A handshake's Upgrade and Connection usually hold the one token ("websocket", "Upgrade"):
  // answered without splitting the value into a list.
  if (value.indexOf(',') === -1) {
    if (value.length === token.length) return value === token || value.toLowerCase() === token;
    return value.trim().toLowerCase() === token;
  }
  for (const part of value.split(',')) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

const KEY_RE = /^[+/0-9A-Za-z]{22}==$/;

/** Whether `key` is a `Sec-WebSocket-Key`: the base64 encoding of 16 bytes (RFC 6455 §4.2.1 item 5). */
export function isValidKey(key: string): boolean {
  return KEY_RE.test(key);
}

const LINE_BREAK_OR_NUL = /[\r\n\0]/;

/** Whether a header value to be sent contains CR, LF or NUL: the characters response splitting needs. */
export function hasLineBreakOrNul(value: string): boolean {
  return LINE_BREAK_OR_NUL.test(value);
}

// Anything but HTAB, SP, VCHAR and obs-text (RFC 7230 §3.2) is refused in a received reason phrase
// or field value: a CR or NUL there is how response splitting hides.
const NOT_FIELD_TEXT = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Whether a received reason phrase or field value holds only HTAB, SP, VCHAR and obs-text. */
export function isFieldText(value: string): boolean {
  return !NOT_FIELD_TEXT.test(value);
}
