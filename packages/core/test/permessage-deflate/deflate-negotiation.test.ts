import { describe, expect, it } from 'vitest';
import { acceptOffer, acceptResponse, clientOffer } from '../../src/permessage-deflate/negotiation.js';
import { resolveDeflateOptions, type DeflateOptions } from '../../src/permessage-deflate/options.js';
import { parseExtensions } from '../../src/protocol/header-grammar.js';
import { WebSocketError } from '../../src/errors.js';

function negotiate(header: string, opts: DeflateOptions | true = true): string | null {
  const offers = parseExtensions(header);
  if (!offers) throw new Error(`bad header in test: ${header}`);
  return acceptOffer(offers, resolveDeflateOptions(opts)!)?.response ?? null;
}

describe('server: permessage-deflate offer → response (RFC 7692 §5, §7)', () => {
  const matrix: [string, DeflateOptions | true, string | null][] = [
    ['permessage-deflate', true, 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits', true, 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=10'],
    ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=10'],
    ['permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=9'],
    // Never client_max_window_bits unless offered, whatever the options say.
    ['permessage-deflate', { clientMaxWindowBits: 10 }, 'permessage-deflate'],
    ['permessage-deflate; server_max_window_bits=10', true, 'permessage-deflate; server_max_window_bits=10'],
    ['permessage-deflate; server_max_window_bits=8', true, 'permessage-deflate; server_max_window_bits=8'],
    ['permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }, 'permessage-deflate; server_max_window_bits=10'],
    ['permessage-deflate', { serverMaxWindowBits: 11 }, 'permessage-deflate; server_max_window_bits=11'],
    ['permessage-deflate; server_no_context_takeover', true, 'permessage-deflate; server_no_context_takeover'],
    ['permessage-deflate; client_no_context_takeover', true, 'permessage-deflate; client_no_context_takeover'],
    ['permessage-deflate', { serverNoContextTakeover: true }, 'permessage-deflate; server_no_context_takeover'],
    ['permessage-deflate', { clientNoContextTakeover: true }, 'permessage-deflate; client_no_context_takeover'],
    [
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9',
      { clientMaxWindowBits: 12 },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9',
    ],
    ['permessage-deflate; server_max_window_bits="10"', true, 'permessage-deflate; server_max_window_bits=10'],
    // Declined offers: unknown, repeated or invalid parameters.
    ['permessage-deflate; foo', true, null],
    ['permessage-deflate; server_max_window_bits', true, null],
    ['permessage-deflate; server_max_window_bits=7', true, null],
    ['permessage-deflate; server_max_window_bits=16', true, null],
    ['permessage-deflate; server_max_window_bits=010', true, null],
    ['permessage-deflate; client_max_window_bits=0', true, null],
    ['permessage-deflate; client_max_window_bits=abc', true, null],
    ['permessage-deflate; server_no_context_takeover=1', true, null],
    ['permessage-deflate; client_no_context_takeover; client_no_context_takeover', true, null],
    ['permessage-deflate; server_max_window_bits=10; server_max_window_bits=11', true, null],
    ['x-webkit-deflate-frame', true, null],
    ['', true, null],
    // The first acceptable offer wins; unacceptable ones are skipped.
    ['permessage-deflate; bogus, permessage-deflate; client_no_context_takeover', true, 'permessage-deflate; client_no_context_takeover'],
    ['foo, permessage-deflate; server_max_window_bits=10, permessage-deflate', true, 'permessage-deflate; server_max_window_bits=10'],
    [
      // A valued client_max_window_bits is echoed: the smaller window saves inflater memory.
      'permessage-deflate; client_max_window_bits=8; client_no_context_takeover, permessage-deflate',
      true,
      'permessage-deflate; client_no_context_takeover; client_max_window_bits=8',
    ],
  ];
  for (const [offer, opts, expected] of matrix) {
    it(`${JSON.stringify(offer)} with ${JSON.stringify(opts)} → ${expected === null ? 'declined' : JSON.stringify(expected)}`, () => {
      expect(negotiate(offer, opts)).toBe(expected);
    });
  }

  it('agrees on the parameters each side compresses with', () => {
    const r = acceptOffer(
      parseExtensions('permessage-deflate; client_max_window_bits; server_no_context_takeover')!,
      resolveDeflateOptions({ clientMaxWindowBits: 11 })!,
    );
    expect(r?.params).toEqual({ deflateBits: 15, deflateNoContextTakeover: true, inflateBits: 11, inflateNoContextTakeover: false });
  });
});

describe('client: offer and validation of the answer', () => {
  it('offers client_max_window_bits and the configured parameters', () => {
    expect(clientOffer(resolveDeflateOptions(true)!)).toBe('permessage-deflate; client_max_window_bits');
    expect(
      clientOffer(
        resolveDeflateOptions({
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 12,
        })!,
      ),
    ).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  const answers: [string, DeflateOptions | true, 'ok' | 'fail'][] = [
    ['permessage-deflate', true, 'ok'],
    ['permessage-deflate; server_no_context_takeover', true, 'ok'],
    ['permessage-deflate; client_no_context_takeover', true, 'ok'],
    ['permessage-deflate; client_max_window_bits=10', true, 'ok'],
    ['permessage-deflate; server_max_window_bits=9', true, 'ok'],
    ['permessage-deflate; server_max_window_bits=11', { serverMaxWindowBits: 10 }, 'fail'],
    ['permessage-deflate; client_max_window_bits=13', { clientMaxWindowBits: 12 }, 'fail'],
    ['permessage-deflate; client_max_window_bits', true, 'fail'],
    ['permessage-deflate', { serverNoContextTakeover: true }, 'fail'],
    ['permessage-deflate', { serverMaxWindowBits: 10 }, 'fail'],
    ['permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 10 }, 'ok'],
    ['permessage-deflate; unknown', true, 'fail'],
    ['permessage-deflate; server_max_window_bits=20', true, 'fail'],
    ['permessage-deflate, permessage-deflate', true, 'fail'],
    ['x-other', true, 'fail'],
  ];
  for (const [answer, opts, verdict] of answers) {
    it(`${JSON.stringify(answer)} with ${JSON.stringify(opts)} → ${verdict}`, () => {
      const r = acceptResponse(parseExtensions(answer)!, resolveDeflateOptions(opts)!);
      if (verdict === 'ok') expect(r).not.toBeInstanceOf(WebSocketError);
      else expect((r as WebSocketError).code).toBe('ERR_EXTENSION_MISMATCH');
    });
  }

  it('applies what the server answered', () => {
    const r = acceptResponse(
      parseExtensions('permessage-deflate; client_no_context_takeover; client_max_window_bits=10; server_max_window_bits=12')!,
      resolveDeflateOptions(true)!,
    );
    expect(r).toEqual({ deflateBits: 10, deflateNoContextTakeover: true, inflateBits: 12, inflateNoContextTakeover: false });
  });
});

describe('compress option validation', () => {
  it('is off unless asked', () => {
    expect(resolveDeflateOptions(undefined)).toBeNull();
    expect(resolveDeflateOptions(false)).toBeNull();
  });
  it('has documented defaults', () => {
    expect(resolveDeflateOptions(true)).toEqual({
      threshold: 1024,
      level: 1,
      memLevel: 8,
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
  });
  for (const bad of [
    { level: 10 },
    { memLevel: 0 },
    { serverMaxWindowBits: 7 },
    { clientMaxWindowBits: 16 },
    { threshold: -1 },
    { level: 1.5 },
    { serverNoContextTakeover: 'yes' },
    { typo: 1 },
    'yes',
    1,
  ]) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      expect(() => resolveDeflateOptions(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    });
  }
});
