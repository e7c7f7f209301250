import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasToken } from '../../src/protocol/validation.js';

// The definition hasToken must keep, whatever shortcut it takes for a value holding one token:
// the comma-separated list, each element trimmed and compared case-insensitively (RFC 7230 §6.1, §6.7).
function listsToken(value: string, token: string): boolean {
  return value.split(',').some((part) => part.trim().toLowerCase() === token);
}

describe('a comma-separated header lists a token', () => {
  it.each([
    ['websocket', 'websocket', true],
    ['WebSocket', 'websocket', true],
    ['Upgrade', 'upgrade', true],
    ['  upgrade\t', 'upgrade', true],
    ['keep-alive, Upgrade', 'upgrade', true],
    ['Upgrade,keep-alive', 'upgrade', true],
    ['upgraded', 'upgrade', false],
    ['upgradE1', 'upgrade', false],
    ['websocke', 'websocket', false],
    ['web socket', 'websocket', false],
    ['', 'upgrade', false],
    [',', 'upgrade', false],
  ])('%j lists %j: %s', (value, token, expected) => {
    expect(hasToken(value, token)).toBe(expected);
  });

  it('a missing header lists nothing', () => {
    expect(hasToken(undefined, 'upgrade')).toBe(false);
  });

  it('agrees with the list definition for any value, one token or many', () => {
    const token = fc.constantFrom('upgrade', 'websocket', 'h2c');
    const element = fc.oneof(
      fc.string({ maxLength: 12 }),
      token.map((t) => t.toUpperCase()),
      fc
        .tuple(
          fc.constantFrom('', ' ', '\t', '  '),
          fc.constantFrom('Upgrade', 'WEBSOCKET', 'websocket', 'h2C'),
          fc.constantFrom('', ' ', '\t'),
        )
        .map(([a, b, c]) => a + b + c),
    );
    const value = fc.array(element, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(','));
    fc.assert(
      fc.property(value, token, (v, t) => {
        expect(hasToken(v, t)).toBe(listsToken(v, t));
      }),
      { numRuns: 2000 },
    );
  });
});
