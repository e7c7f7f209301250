/**
 * Fuzz properties of the header grammars beyond extension-header-grammar.test.ts (which checks
 * round trips of formatted offers and that arbitrary strings never throw): near-valid headers
 * built from the grammar and then damaged, what a successful parse may contain, insensitivity to
 * optional whitespace and to quoting, and the subprotocol list.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatExtensions, parseExtensions, parseProtocols } from '@wsup/core';
import { check, propertyTimeout } from './budget.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,10}$/);
const ows = fc.stringMatching(/^[ \t]{0,3}$/);

interface Offer {
  name: string;
  params: [string, string | true][];
}

const offersArb: fc.Arbitrary<Offer[]> = fc.array(
  fc.record({ name: token, params: fc.array(fc.tuple(token, fc.oneof(fc.constant(true as const), token)), { maxLength: 3 }) }),
  { minLength: 1, maxLength: 3 },
);

/** Writes offers with random optional whitespace around every separator and random quoting. */
const spelledArb: fc.Arbitrary<{ offers: Offer[]; header: string }> = offersArb.chain((offers) => {
  const seps = offers.reduce((n, o) => n + 2 + o.params.length * 4, 0);
  return fc
    .tuple(fc.array(ows, { minLength: seps, maxLength: seps }), fc.array(fc.boolean(), { minLength: seps, maxLength: seps }))
    .map(([spaces, quotes]) => {
      let i = 0;
      const sp = () => spaces[i++] ?? '';
      const header = offers
        .map((o) => {
          let s = `${sp()}${o.name}`;
          for (const [k, v] of o.params) {
            s += `${sp()};${sp()}${k}`;
            if (v !== true) s += `${sp()}=${sp()}${quotes[i] ? `"${v.replace(/[\\"]/g, (ch) => `\\${ch}`)}"` : v}`;
          }
          return `${s}${sp()}`;
        })
        .join(',');
      return { offers, header };
    });
});

/** A damaged header: characters inserted, deleted or replaced at random places. */
const damagedArb = fc
  .tuple(
    spelledArb,
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.constantFrom('insert', 'delete', 'replace'),
        fc.constantFrom(',', ';', '=', '"', '\\', ' ', '\t', 'a', '\u00e9', '\u0000', '\r\n', '('),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([{ header }, edits]) => {
    let h = header;
    for (const [pos, op, ch] of edits) {
      const at = h.length === 0 ? 0 : pos % (h.length + 1);
      if (op === 'insert') h = h.slice(0, at) + ch + h.slice(at);
      else if (op === 'delete') h = h.slice(0, at) + h.slice(at + 1);
      else h = h.slice(0, at) + ch + h.slice(at + 1);
    }
    return h;
  });

function checkParsed(result: Offer[] | null): void {
  if (result === null) return;
  for (const o of result) {
    expect(o.name).toMatch(TOKEN);
    for (const [k, v] of o.params) {
      expect(k).toMatch(TOKEN);
      if (v !== true) expect(v).toMatch(TOKEN);
    }
  }
  // What parses, formats back into something that parses to the same thing.
  expect(parseExtensions(formatExtensions(result))).toEqual(result);
}

export function extensionProperties(): void {
  describe('header grammar fuzzing', () => {
    it(
      'Sec-WebSocket-Extensions: any spelling of valid offers (whitespace, quoting) parses to the offers',
      () => {
        check(
          'extensions: spellings',
          fc.property(spelledArb, ({ offers, header }) => {
            expect(parseExtensions(header)).toEqual(offers);
          }),
          500,
        );
      },
      propertyTimeout,
    );

    it(
      'Sec-WebSocket-Extensions: damaged headers never throw, and what parses is made of tokens',
      () => {
        check(
          'extensions: damaged',
          fc.property(damagedArb, (header) => checkParsed(parseExtensions(header))),
          2000,
        );
      },
      propertyTimeout,
    );

    it(
      'Sec-WebSocket-Protocol: a list of distinct tokens in any spacing parses to that list; damaged ones never throw',
      () => {
        check(
          'protocols: spellings and damage',
          fc.property(
            fc.uniqueArray(token, { minLength: 1, maxLength: 5 }),
            fc.array(ows, { minLength: 10, maxLength: 10 }),
            fc.nat(),
            fc.constantFrom(',', ' ', '"', '/', '\u00e9', ''),
            (list, spaces, pos, junk) => {
              const header = list.map((p, i) => `${spaces[i * 2] ?? ''}${p}${spaces[i * 2 + 1] ?? ''}`).join(',');
              expect(parseProtocols(header)).toEqual(list);
              const at = pos % (header.length + 1);
              const damaged = header.slice(0, at) + junk + header.slice(at);
              const r = parseProtocols(damaged);
              if (r !== null) {
                for (const p of r) expect(p).toMatch(TOKEN);
                expect(new Set(r).size).toBe(r.length);
              }
            },
          ),
          1000,
        );
      },
      propertyTimeout,
    );
  });
}
