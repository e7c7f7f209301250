import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@wsup/core';
import { headerValue, ResponseHeadParser } from '../../src/client/response-head.js';

const HEAD = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-List: a\r\nX-List: b\r\n\r\n';
const AFTER = Buffer.from([0x81, 0x02, 0x68, 0x69]);

/** Feeds `pieces` in order; returns what the parser produced and how many pushes it took. */
function feed(parser: ResponseHeadParser, pieces: Buffer[]) {
  for (let i = 0; i < pieces.length; i++) {
    const out = parser.push(pieces[i]!);
    if (out) return { ...out, rest: Buffer.concat([out.rest, ...pieces.slice(i + 1)]), at: i };
  }
  return null;
}

describe('ResponseHeadParser', () => {
  it('parses the status line and headers, lower-casing names and keeping repeats', () => {
    const out = feed(new ResponseHeadParser(16384), [Buffer.concat([Buffer.from(HEAD), AFTER])])!;
    expect(out.head).toMatchObject({ httpVersion: '1.1', status: 101, statusText: 'Switching Protocols' });
    expect(out.head.headers.get('upgrade')).toEqual(['websocket']);
    expect(out.head.headers.get('x-list')).toEqual(['a', 'b']);
    expect(headerValue(out.head, 'x-list')).toBe('a, b');
    expect(out.rest.equals(AFTER)).toBe(true);
  });

  it('gives the same result however the bytes are split', () => {
    const all = Buffer.concat([Buffer.from(HEAD), AFTER]);
    const whole = feed(new ResponseHeadParser(16384), [all])!;
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: all.length - 1 }), { maxLength: 12 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), all.length];
        const pieces = points.slice(1).map((end, i) => all.subarray(points[i], end));
        const out = feed(new ResponseHeadParser(16384), pieces)!;
        expect(out.head).toEqual(whole.head);
        expect(out.rest.equals(AFTER)).toBe(true);
      }),
    );
  });

  it('finds the end when it is split byte by byte', () => {
    const parser = new ResponseHeadParser(16384);
    const all = Buffer.from(HEAD);
    for (let i = 0; i < all.length - 1; i++) expect(parser.push(all.subarray(i, i + 1))).toBeNull();
    expect(parser.push(all.subarray(all.length - 1))?.head.status).toBe(101);
  });

  it('accepts bare LF line endings', () => {
    const out = feed(new ResponseHeadParser(16384), [Buffer.from('HTTP/1.1 200 OK\nA: 1\n\nbody')])!;
    expect(out.head.headers.get('a')).toEqual(['1']);
    expect(out.rest.toString()).toBe('body');
  });

  it('accepts a status line without a reason phrase', () => {
    expect(feed(new ResponseHeadParser(100), [Buffer.from('HTTP/1.1 204\r\n\r\n')])!.head).toMatchObject({ status: 204, statusText: '' });
  });

  it('unfolds obsolete line folding into a space', () => {
    const out = feed(new ResponseHeadParser(16384), [Buffer.from('HTTP/1.1 200 OK\r\nX-A: one\r\n  two\r\n\r\n')])!;
    expect(out.head.headers.get('x-a')).toEqual(['one two']);
  });

  it('trims whitespace around values', () => {
    const out = feed(new ResponseHeadParser(16384), [Buffer.from('HTTP/1.1 200 OK\r\nX-A: \t spaced \t\r\nX-B:\r\n\r\n')])!;
    expect(out.head.headers.get('x-a')).toEqual(['spaced']);
    expect(out.head.headers.get('x-b')).toEqual(['']);
  });

  it('takes a head of exactly the limit and refuses one byte more', () => {
    const head = Buffer.from('HTTP/1.1 200 OK\r\nX: 1\r\n\r\n');
    expect(new ResponseHeadParser(head.length).push(head)).not.toBeNull();
    expect(() => new ResponseHeadParser(head.length - 1).push(head)).toThrow(
      expect.objectContaining({ code: ErrorCode.ResponseHeadTooLarge }),
    );
  });

  it('refuses an unfinished head as soon as it passes the limit', () => {
    const parser = new ResponseHeadParser(64);
    expect(parser.push(Buffer.from('HTTP/1.1 200 OK\r\n'))).toBeNull();
    expect(() => parser.push(Buffer.alloc(64, 'a'))).toThrow(expect.objectContaining({ code: ErrorCode.ResponseHeadTooLarge }));
  });

  it.each([
    ['an empty line first', '\r\nHTTP/1.1 101 OK\r\n\r\n'],
    ['HTTP/2', 'HTTP/2 101 OK\r\n\r\n'],
    ['a two-digit status', 'HTTP/1.1 10 OK\r\n\r\n'],
    ['lower-case http', 'http/1.1 101 OK\r\n\r\n'],
    ['a header without a colon', 'HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n'],
    ['space before the colon', 'HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n'],
    ['an empty header name', 'HTTP/1.1 101 OK\r\n: x\r\n\r\n'],
    ['a NUL in a value', 'HTTP/1.1 101 OK\r\nX: a\0b\r\n\r\n'],
    ['a CR in a value', 'HTTP/1.1 101 OK\r\nX: a\rb\r\n\r\n'],
    ['a folded first line', 'HTTP/1.1 101 OK\r\n folded\r\n\r\n'],
    ['a control character in the reason', 'HTTP/1.1 101 O\x01K\r\n\r\n'],
  ])('refuses %s', (_what, text) => {
    expect(() => new ResponseHeadParser(16384).push(Buffer.from(text, 'latin1'))).toThrow(
      expect.objectContaining({ code: ErrorCode.MalformedResponse }),
    );
  });
});
