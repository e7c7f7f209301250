import { ErrorCode, WebSocketError } from '../errors.js';
import { isFieldText, isToken } from '../protocol/validation.js';

/** A parsed HTTP/1.x response head (status line and header fields). */
export interface ResponseHead {
  /** `'1.1'`, `'1.0'`. */
  httpVersion: string;
  status: number;
  statusText: string;
  /** Field values by lower-case name, one entry per field line, in order. */
  headers: Map<string, string[]>;
}

function malformed(message: string): WebSocketError {
  return new WebSocketError(ErrorCode.MalformedResponse, message);
}

/**
 * Finds the end of an HTTP response head in bytes that arrive in pieces, without re-scanning or
 * copying what came before, and refuses heads over `limit` bytes as soon as they pass it.
 *
 * Lines may end in CRLF or a bare LF (RFC 7230 §3.5 lets recipients accept both).
 */
export class ResponseHeadParser {
  private readonly limit: number;
  private chunks: Buffer[] = [];
  private size = 0;
  /** 0: inside a line; 1: just after LF; 2: after LF then CR. */
  private state = 0;

  /** @param limit most bytes the head may take, terminating empty line included. */
  constructor(limit: number) {
    this.limit = limit;
  }

  /**
   * Feeds bytes. Returns null while the head is incomplete; once complete, the parsed head and
   * the bytes that followed it in `chunk` (the start of the body or the first frames).
   * @throws {WebSocketError} `ERR_RESPONSE_HEAD_TOO_LARGE`, `ERR_MALFORMED_RESPONSE`.
   */
  push(chunk: Buffer): { head: ResponseHead; rest: Buffer } | null {
    let state = this.state;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === 0x0a) {
        if (state !== 0) {
          if (this.size + i + 1 > this.limit) break;
          this.chunks.push(chunk.subarray(0, i + 1));
          const bytes = Buffer.concat(this.chunks);
          this.chunks = [];
          return { head: parseHead(bytes.toString('latin1')), rest: chunk.subarray(i + 1) };
        }
        state = 1;
      } else if (c === 0x0d && state === 1) {
        state = 2;
      } else {
        state = 0;
      }
    }
    this.state = state;
    this.size += chunk.length;
    if (this.size > this.limit) {
      throw new WebSocketError(ErrorCode.ResponseHeadTooLarge, `the response head is larger than ${this.limit} bytes`);
    }
    this.chunks.push(chunk);
    return null;
  }
}

/** Parses a complete head (terminating empty line included). */
export function parseHead(text: string): ResponseHead {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.endsWith('\r')) lines[i] = line.slice(0, -1);
  }
  // The head ends with an empty line, which split() turns into two empty strings.
  lines.length -= 2;
  const m = /^HTTP\/(1\.[0-9]) ([0-9]{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) {
    throw malformed(`the server did not answer with HTTP/1.x: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  }
  const statusText = m[3] ?? '';
  if (!isFieldText(statusText)) throw malformed('control characters in the status line');

  const headers = new Map<string, string[]>();
  let last: { values: string[]; index: number } | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      // obs-fold: a user agent replaces it with a space (RFC 7230 §3.2.4).
      if (!last) throw malformed('a header line starts with whitespace');
      const folded = line.trim();
      if (!isFieldText(folded)) throw malformed('control characters in a header value');
      last.values[last.index] = `${last.values[last.index]} ${folded}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    if (!isToken(name)) throw malformed(`malformed header line ${JSON.stringify(line.slice(0, 80))}`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!isFieldText(value)) throw malformed(`control characters in the ${name} header`);
    const key = name.toLowerCase();
    let values = headers.get(key);
    if (!values) headers.set(key, (values = []));
    values.push(value);
    last = { values, index: values.length - 1 };
  }
  return { httpVersion: m[1]!, status: Number(m[2]), statusText, headers };
}

/** A field's value; repeated fields are joined with commas, as RFC 7230 §3.2.2 allows for lists. */
export function headerValue(head: ResponseHead, name: string): string | undefined {
  return head.headers.get(name)?.join(', ');
}

/** All fields as a plain object (repeated fields joined), for errors and logs. */
export function headersObject(head: ResponseHead): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of head.headers) out[k] = v.join(', ');
  return out;
}

/** Fields of which Node keeps only the first (`IncomingMessage.headers`): a repeat is an error it forgives. */
const SINGLE_VALUE = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/**
 * The fields in the shape of Node's `IncomingMessage.headers`, so a head parsed here reads the
 * same as one Node parsed: `set-cookie` an array (cookies cannot be joined, RFC 6265 §3), `cookie`
 * joined with `; `, single-value fields first only, the rest joined with `, ` (RFC 7230 §3.2.2).
 */
export function nodeHeaders(head: ResponseHead): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, values] of head.headers) {
    if (name === 'set-cookie') out[name] = [...values];
    else if (name === 'cookie') out[name] = values.join('; ');
    else out[name] = SINGLE_VALUE.has(name) ? values[0]! : values.join(', ');
  }
  return out;
}

/** A head from what Node's parser gives (`rawHeaders`: names and values alternating, as sent). */
export function headFromRaw(httpVersion: string, status: number, statusText: string, rawHeaders: readonly string[]): ResponseHead {
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const values = headers.get(name);
    if (values) values.push(rawHeaders[i + 1]!);
    else headers.set(name, [rawHeaders[i + 1]!]);
  }
  return { httpVersion, status, statusText, headers };
}
