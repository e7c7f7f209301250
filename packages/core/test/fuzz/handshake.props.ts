/**
 * Fuzz properties of checkHandshake: any header map (arrays, odd names, junk values) gets an offer
 * or a WebSocketError with a status from wsup's documented set; a valid request with exactly one
 * rule broken gets that rule's documented status; and isWebSocketRequest agrees.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHandshake, isWebSocketRequest, WebSocketError, type HandshakeRequest } from '@wsup/core';
import { check, propertyTimeout } from './budget.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const KEY = /^[A-Za-z0-9+/]{22}==$/;

const validKey = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64'));

/** Header values as node:http gives them: a string, or a list for repeated headers. */
const headerValue = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('websocket', 'Upgrade', '13', 'keep-alive, Upgrade', 'permessage-deflate', 'chat, superchat', ''),
  },
  { weight: 1, arbitrary: validKey },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 3 }) },
);

const headerName = fc.oneof(
  fc.constantFrom(
    'host',
    'upgrade',
    'connection',
    'sec-websocket-key',
    'sec-websocket-version',
    'sec-websocket-protocol',
    'sec-websocket-extensions',
    'origin',
  ),
  fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 12 }),
);

const requestArb: fc.Arbitrary<HandshakeRequest> = fc.record({
  method: fc.oneof(fc.constantFrom('GET', 'POST', 'HEAD', 'get', 'CONNECT'), fc.string({ maxLength: 8 })),
  httpVersionMajor: fc.integer({ min: 0, max: 3 }),
  httpVersionMinor: fc.integer({ min: 0, max: 9 }),
  headers: fc.dictionary(headerName, headerValue, { maxKeys: 10 }),
}) as fc.Arbitrary<HandshakeRequest>;

const STATUSES = [400, 403, 405, 426];

function validRequest(key: string): HandshakeRequest {
  return {
    method: 'GET',
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    headers: { host: 'example.com', upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': key, 'sec-websocket-version': '13' },
  } as HandshakeRequest;
}

/** One rule of RFC 6455 §4.2.1 broken, and the status wsup documents for it. */
const oneBreakage: fc.Arbitrary<[string, (r: HandshakeRequest) => void, number]> = fc.oneof(
  fc.constantFrom<[string, (r: HandshakeRequest) => void, number]>(
    ['no Upgrade', (r) => delete r.headers.upgrade, 426],
    ['no version', (r) => delete r.headers['sec-websocket-version'], 426],
    ['not GET', (r) => ((r as { method: string }).method = 'POST'), 405],
    ['HTTP/1.0', (r) => ((r as { httpVersionMinor: number }).httpVersionMinor = 0), 400],
    ['no Host', (r) => delete r.headers.host, 400],
    ['no Connection', (r) => delete r.headers.connection, 400],
    ['no key', (r) => delete r.headers['sec-websocket-key'], 400],
  ),
  fc
    .string({ unit: 'binary-ascii', maxLength: 30 })
    .filter((k) => !KEY.test(k.trim()))
    .map((k): [string, (r: HandshakeRequest) => void, number] => [
      `key ${JSON.stringify(k)}`,
      (r) => (r.headers['sec-websocket-key'] = k),
      400,
    ]),
  fc
    .string({ unit: 'binary-ascii', maxLength: 6 })
    .filter((v) => v.trim() !== '13')
    .map((v): [string, (r: HandshakeRequest) => void, number] => [
      `version ${JSON.stringify(v)}`,
      (r) => (r.headers['sec-websocket-version'] = v),
      426,
    ]),
);

function checkResult(req: HandshakeRequest): void {
  const result = checkHandshake(req);
  if (result instanceof WebSocketError) {
    expect(STATUSES).toContain(result.status);
    expect(result.code).toMatch(/^ERR_HANDSHAKE_/);
  } else {
    expect(result.key).toMatch(KEY);
    for (const p of result.protocols) expect(p).toMatch(TOKEN);
    expect(new Set(result.protocols).size).toBe(result.protocols.length);
    for (const e of result.extensions) expect(e.name).toMatch(TOKEN);
  }
  expect(isWebSocketRequest(req)).toBe(!(result instanceof WebSocketError));
}

export function handshakeProperties(): void {
  describe('checkHandshake fuzzing', () => {
    it(
      'any header map gets an offer or a WebSocketError with status 400, 403, 405 or 426',
      () => {
        check(
          'handshake: random requests',
          fc.property(requestArb, (req) => checkResult(req)),
          1000,
        );
      },
      propertyTimeout,
    );

    it(
      'a valid request with random extra headers is accepted, and with one rule broken gets its status',
      () => {
        check(
          'handshake: one rule broken',
          fc.property(
            validKey,
            fc.dictionary(fc.constantFrom('origin', 'cookie', 'x-custom', 'user-agent'), fc.string({ maxLength: 30 })),
            oneBreakage,
            (key, extra, [, breakIt, status]) => {
              const req = validRequest(key);
              Object.assign(req.headers, extra);
              const ok = checkHandshake(req);
              expect(ok).not.toBeInstanceOf(WebSocketError);
              breakIt(req);
              const err = checkHandshake(req);
              expect(err).toBeInstanceOf(WebSocketError);
              expect((err as WebSocketError).status).toBe(status);
              checkResult(req);
            },
          ),
          500,
        );
      },
      propertyTimeout,
    );
  });
}
