/**
 * Client suite, section 13: permessage-deflate answers. Every combination of the parameters a
 * server may answer to the client's offer, and the offers the client's own options make, each
 * followed by traffic both ways that holds both ends to the agreement (see s13 of the server
 * suite: the scripted server inflates with the agreed window, reset per message when the client
 * promised no context takeover). Then the answers the client must refuse with
 * ERR_EXTENSION_MISMATCH, closing the connection.
 *
 * Refusals already pinned by client-deflate.test.ts are not repeated here: client_max_window_bits
 * without a value, an unknown or repeated parameter, server_max_window_bits=7, an extension that
 * was not offered, and server_no_context_takeover asked for but not confirmed; and by
 * client-rejects-bad-handshake-responses.test.ts: permessage-deflate when nothing was offered.
 */
import type { RefusedAnswerCase, SessionCase } from '../../case.js';
import { traffic } from '../deflate-batches.js';
import { CLIENT_OFFER } from './subjects.js';

let n = 1;
function answered(title: string, subject: string, offer: string, answer: string): SessionCase {
  return {
    kind: 'session',
    id: `13.c.${n++}`,
    title,
    subject,
    offer: { extensions: offer },
    answer,
    get steps() {
      return traffic()[0];
    },
    get expect() {
      return traffic()[1];
    },
  };
}

const matrix: SessionCase[] = [];
for (const snct of [false, true]) {
  for (const cnct of [false, true]) {
    for (const smwb of [undefined, 8, 9, 15]) {
      for (const cmwb of [undefined, 8, 9, 15]) {
        const answer = [
          'permessage-deflate',
          ...(snct ? ['server_no_context_takeover'] : []),
          ...(cnct ? ['client_no_context_takeover'] : []),
          ...(smwb === undefined ? [] : [`server_max_window_bits=${smwb}`]),
          ...(cmwb === undefined ? [] : [`client_max_window_bits=${cmwb}`]),
        ].join('; ');
        matrix.push(answered(`answer ${answer}`, 'pmd', CLIENT_OFFER, answer));
      }
    }
  }
}

const options: SessionCase[] = [
  answered(
    'serverNoContextTakeover: offered, and confirmed',
    'pmd-snct',
    'permessage-deflate; server_no_context_takeover; client_max_window_bits',
    'permessage-deflate; server_no_context_takeover',
  ),
  answered(
    'clientNoContextTakeover: offered, answered without it; the client keeps its promise anyway',
    'pmd-cnct',
    'permessage-deflate; client_no_context_takeover; client_max_window_bits',
    'permessage-deflate',
  ),
  answered(
    'windows of 10 (server) and 9 (client) bits: answered with the server window only; the client keeps to 9',
    'pmd-win',
    'permessage-deflate; server_max_window_bits=10; client_max_window_bits=9',
    'permessage-deflate; server_max_window_bits=10',
  ),
  answered(
    'windows of 10 (server) and 9 (client) bits: answered with 8 and 8',
    'pmd-win',
    'permessage-deflate; server_max_window_bits=10; client_max_window_bits=9',
    'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8',
  ),
];

const refused = (title: string, subject: string, answer: string): RefusedAnswerCase => ({
  kind: 'refused-answer',
  id: `13.c.${n++}`,
  title: `refuses ${title}`,
  subject,
  answer,
  expect: { error: 'ERR_EXTENSION_MISMATCH' },
});

const refusals: RefusedAnswerCase[] = [
  refused('server_max_window_bits=16', 'pmd', 'permessage-deflate; server_max_window_bits=16'),
  refused('server_max_window_bits=0', 'pmd', 'permessage-deflate; server_max_window_bits=0'),
  refused('server_max_window_bits=08 (a leading zero)', 'pmd', 'permessage-deflate; server_max_window_bits=08'),
  refused('server_max_window_bits without a value', 'pmd', 'permessage-deflate; server_max_window_bits'),
  refused('client_max_window_bits=7', 'pmd', 'permessage-deflate; client_max_window_bits=7'),
  refused('client_max_window_bits=16', 'pmd', 'permessage-deflate; client_max_window_bits=16'),
  refused('server_no_context_takeover with a value', 'pmd', 'permessage-deflate; server_no_context_takeover=1'),
  refused('client_no_context_takeover twice', 'pmd', 'permessage-deflate; client_no_context_takeover; client_no_context_takeover'),
  refused('permessage-deflate accepted twice', 'pmd', 'permessage-deflate, permessage-deflate'),
  refused('permessage-deflate with an extension that was not offered', 'pmd', 'permessage-deflate, x-custom'),
  refused('a server window larger than the one asked for (12 > 10)', 'pmd-win', 'permessage-deflate; server_max_window_bits=12'),
  refused(
    'a client window larger than the one offered (12 > 9)',
    'pmd-win',
    'permessage-deflate; server_max_window_bits=10; client_max_window_bits=12',
  ),
  refused('an answer without the server window asked for (RFC 7692 §7.1.2.1: accepted by including it)', 'pmd-win', 'permessage-deflate'),
];

export const clientSection13: (SessionCase | RefusedAnswerCase)[] = [...matrix, ...options, ...refusals];
