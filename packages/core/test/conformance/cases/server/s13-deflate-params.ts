/**
 * Section 13, permessage-deflate with different parameters. Autobahn's 13.1–13.7 (its offers,
 * each with the 18 message batches of section 12), then wsup's additions (13.x): every
 * combination of the four offer parameters, the server's own restrictions, offers that must be
 * skipped for a later one, and offers that must be declined.
 *
 * Each case pins the answer (compared as a set of parameters, so their order is free), and the
 * scripted client then holds both ends to it: it inflates wsup's messages with an inflater of the
 * agreed window, reset per message when wsup promised no context takeover, and compresses its
 * own with the largest window and the context takeover the agreement leaves it, which wsup must
 * inflate.
 */
import { closesNormally, frame, got, step, type SessionCase } from '../../case.js';
import { CORPORA } from '../corpora.js';
import { batches, traffic } from '../deflate-batches.js';

const json = CORPORA[0]!;

/** Autobahn's offer for (requestNoContextTakeover, requestMaxWindowBits), as it tests a server. */
function autobahnOffer(noContextTakeover: boolean, maxWindowBits: number): string {
  let s = 'permessage-deflate; client_no_context_takeover; client_max_window_bits';
  if (noContextTakeover) s += '; server_no_context_takeover';
  if (maxWindowBits) s += `; server_max_window_bits=${maxWindowBits}`;
  return s;
}

/** wsup's answer (compress: true) to one offer: it confirms what the offer asks and nothing else. */
function answerTo(o: { snct?: boolean; cnct?: boolean; smwb?: number; cmwb?: number | 'bare' }): string {
  let s = 'permessage-deflate';
  if (o.snct) s += '; server_no_context_takeover';
  if (o.cnct) s += '; client_no_context_takeover';
  if (o.smwb !== undefined) s += `; server_max_window_bits=${o.smwb}`;
  if (typeof o.cmwb === 'number' && o.cmwb < 15) s += `; client_max_window_bits=${o.cmwb}`;
  return s;
}

const AUTOBAHN: [boolean, number][][] = [
  [[false, 0]],
  [[true, 0]],
  [[false, 8]],
  [[false, 15]],
  [[true, 8]],
  [[true, 15]],
  [
    [true, 8],
    [true, 0],
    [false, 0],
  ],
];

const autobahn: SessionCase[] = AUTOBAHN.flatMap((offers, i) => {
  const offer = offers.map(([nct, bits]) => autobahnOffer(nct, bits)).join(', ');
  const [nct, bits] = offers[0]!;
  const answer = answerTo({ snct: nct, cnct: true, ...(bits ? { smwb: bits } : {}) });
  return batches(`13.${i + 1}`, json, { subject: 'pmd', offer: { extensions: offer }, answer });
});

// ---- wsup's additions ----

let n = 1;
function negotiated(title: string, subject: string, offer: string, answer: string | null): SessionCase {
  return {
    kind: 'session',
    id: `13.x.${n++}`,
    title,
    subject,
    offer: { extensions: offer },
    answer,
    get steps() {
      return answer === null ? [step.send(frame.text('not compressed'))] : traffic()[0];
    },
    get expect() {
      return answer === null ? closesNormally(got.text('not compressed')) : traffic()[1];
    },
  };
}

// Every combination of the offer's four parameters.
const matrix: SessionCase[] = [];
for (const cnct of [false, true]) {
  for (const cmwb of [undefined, 'bare', 8, 15] as const) {
    for (const snct of [false, true]) {
      for (const smwb of [undefined, 8, 9, 15]) {
        const params = [
          ...(cnct ? ['client_no_context_takeover'] : []),
          ...(cmwb === undefined ? [] : [cmwb === 'bare' ? 'client_max_window_bits' : `client_max_window_bits=${cmwb}`]),
          ...(snct ? ['server_no_context_takeover'] : []),
          ...(smwb === undefined ? [] : [`server_max_window_bits=${smwb}`]),
        ];
        const offer = ['permessage-deflate', ...params].join('; ');
        matrix.push(
          negotiated(
            `offer ${offer}`,
            'pmd',
            offer,
            answerTo({ snct, cnct, ...(smwb === undefined ? {} : { smwb }), ...(cmwb === undefined ? {} : { cmwb }) }),
          ),
        );
      }
    }
  }
}

// The server's own restrictions (see the subjects in ./subjects.ts).
const serverSide: SessionCase[] = [
  negotiated(
    'server with no context takeover both ways, offer with client_max_window_bits',
    'pmd-nct',
    'permessage-deflate; client_max_window_bits',
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
  ),
  negotiated(
    'server with no context takeover both ways, bare offer',
    'pmd-nct',
    'permessage-deflate',
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
  ),
  negotiated(
    'server with windows of 10 and 11 bits, offer with client_max_window_bits',
    'pmd-win',
    'permessage-deflate; client_max_window_bits',
    'permessage-deflate; server_max_window_bits=10; client_max_window_bits=11',
  ),
  negotiated(
    'server with windows of 10 and 11 bits, offer asking for 12 and 9: the smaller of each',
    'pmd-win',
    'permessage-deflate; server_max_window_bits=12; client_max_window_bits=9',
    'permessage-deflate; server_max_window_bits=10; client_max_window_bits=9',
  ),
  negotiated(
    'server with windows of 10 and 11 bits, offer without client_max_window_bits: the client keeps 15 bits',
    'pmd-win',
    'permessage-deflate; server_max_window_bits=9',
    'permessage-deflate; server_max_window_bits=9',
  ),
  negotiated(
    'server with windows of 10 and 11 bits, bare offer',
    'pmd-win',
    'permessage-deflate',
    'permessage-deflate; server_max_window_bits=10',
  ),
  negotiated(
    'server with windows of 8 bits both ways',
    'pmd-win8',
    'permessage-deflate; client_max_window_bits',
    'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8',
  ),
];

// Offers wsup must skip (invalid or unknown) for a later one it can accept.
const fallbacks: SessionCase[] = (
  [
    [
      'permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=9',
      'permessage-deflate; server_max_window_bits=9',
    ],
    ['permessage-deflate; server_max_window_bits=16, permessage-deflate', 'permessage-deflate'],
    ['permessage-deflate; server_max_window_bits=08, permessage-deflate', 'permessage-deflate'],
    [
      'permessage-deflate; server_max_window_bits, permessage-deflate; server_max_window_bits=11',
      'permessage-deflate; server_max_window_bits=11',
    ],
    [
      'permessage-deflate; client_max_window_bits=7, permessage-deflate; client_max_window_bits=10',
      'permessage-deflate; client_max_window_bits=10',
    ],
    ['permessage-deflate; foo, permessage-deflate; server_no_context_takeover', 'permessage-deflate; server_no_context_takeover'],
    ['permessage-deflate; client_no_context_takeover=1, permessage-deflate', 'permessage-deflate'],
    [
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover, permessage-deflate; client_no_context_takeover',
      'permessage-deflate; client_no_context_takeover',
    ],
    ['x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=12', 'permessage-deflate; client_max_window_bits=12'],
    [
      'permessage-deflate; server_max_window_bits=10, permessage-deflate; server_max_window_bits=8',
      'permessage-deflate; server_max_window_bits=10',
    ],
  ] as const
).map(([offer, answer]) => negotiated(`offers ${offer}: the first acceptable one`, 'pmd', offer, answer));

// Nothing acceptable: no extension, and messages flow uncompressed.
const declines: SessionCase[] = [
  negotiated('only an invalid offer (server_max_window_bits=7): declined', 'pmd', 'permessage-deflate; server_max_window_bits=7', null),
  negotiated('only an offer with an unknown parameter: declined', 'pmd', 'permessage-deflate; unknown_param', null),
  negotiated('only another extension: declined', 'pmd', 'x-webkit-deflate-frame', null),
  negotiated('compression not enabled on the server: declined', '', 'permessage-deflate; client_max_window_bits', null),
];

// The defaults of compress: true (issue 20): one deflater shared by all connections (every message
// compressed on its own), the client's context bounded to 13 window bits when it offered
// client_max_window_bits, otherwise not kept (§7.1.1.2 lets a server ask for that unasked).
const CHROMIUM_OFFER = 'permessage-deflate; client_max_window_bits';
const defaults: SessionCase[] = [
  ...batches('13.d', json, {
    subject: 'pmd-default',
    offer: { extensions: CHROMIUM_OFFER },
    answer: 'permessage-deflate; server_no_context_takeover; client_max_window_bits=13',
  }),
  negotiated(
    'defaults, offer as Chromium and ws make it',
    'pmd-default',
    CHROMIUM_OFFER,
    'permessage-deflate; server_no_context_takeover; client_max_window_bits=13',
  ),
  negotiated(
    'defaults, bare offer: the client is asked to keep no context',
    'pmd-default',
    'permessage-deflate',
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
  ),
  negotiated(
    "defaults, Autobahn's offer: a client keeping no context keeps its window",
    'pmd-default',
    autobahnOffer(false, 0),
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
  ),
  negotiated(
    'defaults, offer asking for windows of 9 and 10 bits',
    'pmd-default',
    'permessage-deflate; server_max_window_bits=9; client_max_window_bits=10',
    'permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10',
  ),
];

export const section13: SessionCase[] = [...autobahn, ...matrix, ...serverSide, ...fallbacks, ...declines, ...defaults];
