/**
 * Client cases wsup fails today, by case id, with the diagnosis (file/function, and the fix). Each
 * runs as `it.fails`: when the bug is fixed the test turns red, and its entry here is to be removed.
 */
import type { KnownFailure } from '../../case.js';
import { BFINAL_DIAGNOSIS } from '../server/known-failures.js';

export const knownClientFailures: Record<string, KnownFailure> = {
  '12.x.4': { diagnosis: BFINAL_DIAGNOSIS },
  '13.c.81': {
    diagnosis:
      'With serverMaxWindowBits: 10 the client offers server_max_window_bits=10; an answer without the parameter does not ' +
      'accept that offer (RFC 7692 §7.1.2.1: "a server accepts an extension negotiation offer with this parameter by ' +
      'including the server_max_window_bits extension parameter in the response"), yet connect() resolves. ' +
      'src/deflate.ts acceptResponse() only refuses a value above the offered one; it already refuses the same omission ' +
      'of server_no_context_takeover. Fix: `if (opts.serverMaxWindowBits < 15 && p.serverMaxWindowBits === undefined) ' +
      "return bad('server_max_window_bits was requested but not confirmed');`.",
  },
};
