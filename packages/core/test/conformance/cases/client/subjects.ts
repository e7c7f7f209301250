/**
 * The configurations of wsup's client that the client cases use, by the name a case gives as
 * `subject`. "" is connect()'s defaults: no compression offered.
 */
import type { ClientSubject } from '../../client-subject.js';

/** What wsup's client offers with `compress: true`. */
export const CLIENT_OFFER = 'permessage-deflate; client_max_window_bits';

/** Seconds: short, so that the cases that wait for the client's close timer stay quick. */
const CLOSE_TIMEOUT = 0.3;

export const clientSubjects: Record<string, ClientSubject> = {
  '': {},
  pmd: { options: { compress: true } },
  'pmd-t0': { options: { compress: { threshold: 0 } } },
  'pmd-64k': { options: { compress: true, maxPayload: 64 * 1024 } },
  /** Asks the server not to keep context. */
  'pmd-snct': { options: { compress: { serverNoContextTakeover: true } } },
  /** Promises not to keep context itself. */
  'pmd-cnct': { options: { compress: { clientNoContextTakeover: true } } },
  /** Asks for a 10-bit server window and promises a 9-bit one. */
  'pmd-win': { options: { compress: { serverMaxWindowBits: 10, clientMaxWindowBits: 9 } } },
  max64k: { options: { maxPayload: 64 * 1024 } },
  frag10: { options: { maxFragments: 10 } },
  'short-close': { options: { closeTimeout: CLOSE_TIMEOUT } },
  /** Closes with 4000 on the first message instead of echoing it. */
  closes: { closeOnFirstMessage: { code: 4000, reason: 'client closes' } },
  'closes-short': { options: { closeTimeout: CLOSE_TIMEOUT }, closeOnFirstMessage: { code: 4000, reason: 'client closes' } },
};
