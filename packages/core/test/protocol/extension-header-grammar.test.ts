import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatExtensions, parseExtensions, parseProtocols } from '../../src/protocol/header-grammar.js';

describe('Sec-WebSocket-Extensions grammar', () => {
  const valid: [string, unknown][] = [
    ['permessage-deflate', [{ name: 'permessage-deflate', params: [] }]],
    ['permessage-deflate; client_max_window_bits', [{ name: 'permessage-deflate', params: [['client_max_window_bits', true]] }]],
    [
      'permessage-deflate;server_max_window_bits=10 ; client_no_context_takeover',
      [
        {
          name: 'permessage-deflate',
          params: [
            ['server_max_window_bits', '10'],
            ['client_no_context_takeover', true],
          ],
        },
      ],
    ],
    ['permessage-deflate; server_max_window_bits="10"', [{ name: 'permessage-deflate', params: [['server_max_window_bits', '10']] }]],
    [
      'a; x="\\1\\0", b',
      [
        { name: 'a', params: [['x', '10']] },
        { name: 'b', params: [] },
      ],
    ],
    [
      'permessage-deflate; client_max_window_bits, permessage-deflate, x-webkit-deflate-frame',
      [
        { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
        { name: 'permessage-deflate', params: [] },
        { name: 'x-webkit-deflate-frame', params: [] },
      ],
    ],
    [
      ' foo ,, bar ',
      [
        { name: 'foo', params: [] },
        { name: 'bar', params: [] },
      ],
    ],
    [
      'foo; a=1; a=2',
      [
        {
          name: 'foo',
          params: [
            ['a', '1'],
            ['a', '2'],
          ],
        },
      ],
    ],
    ['', []],
  ];
  for (const [header, expected] of valid) {
    it(`parses ${JSON.stringify(header)}`, () => expect(parseExtensions(header)).toEqual(expected));
  }

  const invalid = [
    'foo;',
    'foo; =1',
    'foo; a=',
    'foo; a="unterminated',
    'foo; a="has space"',
    'foo; a="',
    'fo o',
    'foo bar',
    'foo; a=1 2',
    '"quoted-name"',
    'foo;;a',
    'foo, ;a',
    'foo; a="\\',
    'föö',
  ];
  for (const header of invalid) {
    it(`rejects ${JSON.stringify(header)}`, () => expect(parseExtensions(header)).toBeNull());
  }

  it('round-trips what it formats', () => {
    const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
    const offers = fc.array(
      fc.record({ name: token, params: fc.array(fc.tuple(token, fc.oneof(fc.constant(true as const), token)), { maxLength: 4 }) }),
      { minLength: 1, maxLength: 4 },
    );
    fc.assert(
      fc.property(offers, (o) => {
        expect(parseExtensions(formatExtensions(o))).toEqual(o);
      }),
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const r = parseExtensions(s);
        expect(r === null || Array.isArray(r)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('Sec-WebSocket-Protocol grammar', () => {
  it('parses token lists', () => {
    expect(parseProtocols('chat')).toEqual(['chat']);
    expect(parseProtocols('chat, superchat ,v2.json')).toEqual(['chat', 'superchat', 'v2.json']);
  });
  it('rejects empty elements, bad tokens and duplicates', () => {
    for (const h of ['', 'a,,b', 'a b', 'a,', 'chat, chat', 'a/b', '"a"']) expect(parseProtocols(h)).toBeNull();
  });
  it('never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 100 }), (s) => void parseProtocols(s)));
  });
});
