import { describe, expect, it } from 'vitest';
import { acceptOffer, acceptResponse, clientOffer } from '../../src/permessage-deflate/negotiation.js';
import { clientDefaults, resolveDeflateOptions, serverDefaults, type DeflateOptions } from '../../src/permessage-deflate/options.js';
import { parseExtensions } from '../../src/protocol/header-grammar.js';
import { WebSocketError } from '../../src/errors.js';

function negotiate(header: string, opts: DeflateOptions | true = true): string | null {
  const offers = parseExtensions(header);
  if (!offers) throw new Error(`bad header in test: ${header}`);
  return acceptOffer(offers, resolveDeflateOptions(opts)!)?.response ?? null;
}

/** The server defaults before issue 20 (context takeover both ways, level 1, 15-bit windows), set explicitly. */
const OLD: DeflateOptions = { level: 1, serverNoContextTakeover: false, clientNoContextTakeover: false, clientMaxWindowBits: 15 };
const old = (o: DeflateOptions | true): DeflateOptions => ({ ...OLD, ...(o === true ? {} : o) });

describe('server: permessage-deflate offer → response (RFC 7692 §5, §7), with the former defaults set explicitly', () => {
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
      expect(negotiate(offer, old(opts))).toBe(expected);
    });
  }

  it('agrees on the parameters each side compresses with', () => {
    const r = acceptOffer(
      parseExtensions('permessage-deflate; client_max_window_bits; server_no_context_takeover')!,
      resolveDeflateOptions(old({ clientMaxWindowBits: 11 }))!,
    );
    expect(r?.params).toEqual({
      deflateBits: 15,
      deflateNoContextTakeover: true,
      inflateBits: 11,
      inflateNoContextTakeover: false,
      deflateLevel: 1,
      deflateMemLevel: 8,
      deflateLargeLevel: 1,
    });
  });
});

// The defaults of compress: true on a server (issue 20: memory per compressing connection). The
// server compresses every message on its own with one shared deflater, at level 3, and bounds the
// context it keeps for the client: a 13-bit window when the client offered client_max_window_bits,
// otherwise no client context at all.
const CHROMIUM = 'permessage-deflate; client_max_window_bits';
const WS_CLIENT = 'permessage-deflate; client_max_window_bits';
const AUTOBAHN = 'permessage-deflate; client_no_context_takeover; client_max_window_bits';

describe('server: the defaults of compress: true', () => {
  const matrix: [string, DeflateOptions | true, string | null][] = [
    [CHROMIUM, true, 'permessage-deflate; server_no_context_takeover; client_max_window_bits=13'],
    [WS_CLIENT, true, 'permessage-deflate; server_no_context_takeover; client_max_window_bits=13'],
    // An offer without parameters (Firefox's): the client's window cannot be bounded, so it is asked to keep no context (§7.1.1.2).
    ['permessage-deflate', true, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    // A client that keeps no context is inflated by pooled inflaters: its window is left alone.
    [AUTOBAHN, true, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    ['permessage-deflate; client_max_window_bits=10', true, 'permessage-deflate; server_no_context_takeover; client_max_window_bits=10'],
    ['permessage-deflate; client_max_window_bits=14', true, 'permessage-deflate; server_no_context_takeover; client_max_window_bits=13'],
    [
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits',
      true,
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=13',
    ],
    ['permessage-deflate; server_no_context_takeover', true, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    // Each default can be overridden on its own.
    [CHROMIUM, { serverNoContextTakeover: false }, 'permessage-deflate; client_max_window_bits=13'],
    [CHROMIUM, { clientMaxWindowBits: 15 }, 'permessage-deflate; server_no_context_takeover'],
    [CHROMIUM, { clientNoContextTakeover: true }, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    [CHROMIUM, { clientMaxWindowBits: 11 }, 'permessage-deflate; server_no_context_takeover; client_max_window_bits=11'],
    ['permessage-deflate', { clientNoContextTakeover: false }, 'permessage-deflate; server_no_context_takeover'],
    ['permessage-deflate', { clientMaxWindowBits: 15 }, 'permessage-deflate; server_no_context_takeover'],
    [
      AUTOBAHN,
      { clientMaxWindowBits: 11 },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=11',
    ],
    // The former defaults, set explicitly, answer as before.
    [CHROMIUM, OLD, 'permessage-deflate'],
    ['permessage-deflate', OLD, 'permessage-deflate'],
    [AUTOBAHN, OLD, 'permessage-deflate; client_no_context_takeover'],
  ];
  for (const [offer, opts, expected] of matrix) {
    it(`${JSON.stringify(offer)} with ${JSON.stringify(opts)} → ${JSON.stringify(expected)}`, () => {
      expect(negotiate(offer, opts)).toBe(expected);
    });
  }

  const params = (offer: string, opts: DeflateOptions | true) => acceptOffer(parseExtensions(offer)!, resolveDeflateOptions(opts)!)?.params;

  it("compresses with the shared deflater at level 3 (1 from 64 KiB up) and keeps the client's context in 13 bits", () => {
    expect(params(CHROMIUM, true)).toEqual({
      deflateBits: 15,
      deflateNoContextTakeover: true,
      inflateBits: 13,
      inflateNoContextTakeover: false,
      deflateLevel: 3,
      deflateMemLevel: 8,
      deflateLargeLevel: 1,
    });
    expect(params('permessage-deflate', true)).toMatchObject({ inflateBits: 15, inflateNoContextTakeover: true });
  });

  it('uses level 1 where the server keeps its context, 3 where it compresses each message on its own, unless set', () => {
    expect(params(CHROMIUM, { serverNoContextTakeover: false })?.deflateLevel).toBe(1);
    expect(params(CHROMIUM, { serverNoContextTakeover: false, level: 6 })?.deflateLevel).toBe(6);
    expect(params(CHROMIUM, { level: 2 })?.deflateLevel).toBe(2);
    // A client asking for no server context gets the shared deflater's level.
    expect(params('permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: false })?.deflateLevel).toBe(3);
    expect(params('permessage-deflate; server_no_context_takeover', OLD)?.deflateLevel).toBe(1);
  });

  it('restores every former parameter when the former defaults are set', () => {
    expect(params(CHROMIUM, OLD)).toEqual({
      deflateBits: 15,
      deflateNoContextTakeover: false,
      inflateBits: 15,
      inflateNoContextTakeover: false,
      deflateLevel: 1,
      deflateMemLevel: 8,
      deflateLargeLevel: 1,
    });
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
    expect(r).toEqual({
      deflateBits: 10,
      deflateNoContextTakeover: true,
      inflateBits: 12,
      inflateNoContextTakeover: false,
      deflateLevel: 1,
      deflateMemLevel: 8,
      deflateLargeLevel: 1,
    });
  });
});

describe('compress option validation', () => {
  it('is off unless asked', () => {
    expect(resolveDeflateOptions(undefined)).toBeNull();
    expect(resolveDeflateOptions(false)).toBeNull();
  });
  it('leaves the options whose default depends on the side unset', () => {
    expect(resolveDeflateOptions(true)).toEqual({
      threshold: 1024,
      level: undefined,
      memLevel: 8,
      serverNoContextTakeover: undefined,
      clientNoContextTakeover: undefined,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: undefined,
    });
  });
  it('has documented server defaults', () => {
    expect(serverDefaults(resolveDeflateOptions(true)!)).toEqual({
      level: 3,
      memLevel: 8,
      serverNoContextTakeover: true,
      clientNoContextTakeover: undefined,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 13,
    });
    expect(serverDefaults(resolveDeflateOptions({ serverNoContextTakeover: false })!).level).toBe(1);
  });
  it('has documented client defaults, unchanged by issue 20', () => {
    expect(clientDefaults(resolveDeflateOptions(true)!)).toEqual({
      level: 1,
      memLevel: 8,
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
  });
  it('keeps what is set, on either side', () => {
    const o = resolveDeflateOptions(OLD)!;
    expect(serverDefaults(o)).toEqual({ ...clientDefaults(o), clientNoContextTakeover: false });
    expect(serverDefaults(o)).toMatchObject({ level: 1, serverNoContextTakeover: false, clientMaxWindowBits: 15 });
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
