/**
 * Every case of the client suite. Autobahn runs the same cases against clients as against
 * servers, and so does this suite: sections 1–7, 9, 10 and 12 of the server tables are run with
 * the roles swapped (the scripted peer is the server and sends unmasked frames; wsup's client
 * echoes). Then the client's own tables: masked frames from the server (1.c), the close
 * handshake (7.c), the client's limits (9.c) and permessage-deflate answers (13.c).
 *
 * Not here: the opening handshake failures the client must detect (wrong accept key, status,
 * Upgrade/Connection, subprotocol): client-rejects-bad-handshake-responses.test.ts and
 * client-connect-failures.test.ts pin them.
 */
import type { ConformanceCase, SessionCase } from '../../case.js';
import { section1 } from '../server/s01-framing.js';
import { section2 } from '../server/s02-pings.js';
import { section3 } from '../server/s03-reserved-bits.js';
import { section4 } from '../server/s04-opcodes.js';
import { section5 } from '../server/s05-fragmentation.js';
import { section6 } from '../server/s06-utf8.js';
import { section7 } from '../server/s07-close.js';
import { section9 } from '../server/s09-limits.js';
import { section10 } from '../server/s10-misc.js';
import { section12 } from '../server/s12-deflate.js';
import { section12Misuse } from '../server/s12-deflate-misuse.js';
import { clientSection1 } from './c01-masking.js';
import { clientSection7 } from './c07-close.js';
import { clientSection9 } from './c09-limits.js';
import { clientSection13 } from './c13-deflate-answers.js';
import { CLIENT_OFFER } from './subjects.js';

/** Server cases about what a client sends (unmasked frames): 1.c has the client's counterparts. */
const SERVER_ONLY = new Set(['7.x.9', '7.x.10']);

/**
 * A server case in the client role. Its offer was the scripted client's; here wsup's client
 * makes the offer, so a case that offered compression talks to a client that offers it (with
 * the server case's limits), and one that did not, to a client that does not. The answer stays:
 * the scripted server now sends it.
 */
function asClientCase(c: SessionCase): SessionCase {
  const copy = Object.defineProperties({}, Object.getOwnPropertyDescriptors(c)) as SessionCase;
  if (c.offer?.extensions !== undefined) {
    const subject = c.subject === 'pmd-t0' || c.subject === 'pmd-64k' ? c.subject : 'pmd';
    return Object.assign(copy, { subject, offer: { extensions: CLIENT_OFFER } });
  }
  return Object.assign(copy, { subject: '', offer: undefined, answer: undefined });
}

const reused: SessionCase[] = [
  section1,
  section2,
  section3,
  section4,
  section5,
  section6,
  section7,
  section9,
  section10,
  section12,
  section12Misuse,
]
  .flat()
  .filter((c) => !SERVER_ONLY.has(c.id))
  .map(asClientCase);

export const clientCases: ConformanceCase[] = [...reused, ...clientSection1, ...clientSection7, ...clientSection9, ...clientSection13].sort(
  (a, b) => Number(a.id.split('.')[0]) - Number(b.id.split('.')[0]),
);
