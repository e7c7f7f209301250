/**
 * Server cases wsup fails today, by case id, with the diagnosis (file/function, and the fix). Each
 * runs as `it.fails`: when the bug is fixed the test turns red, and its entry here is to be removed.
 *
 * (3.2, 4.1.3–4.1.5, 4.2.3–4.2.5 and 5.15 were known failures until 41aefc0: an echo of a message
 * read together with a bad frame was lost because the failure's close frame went out
 * synchronously, before the application could answer.)
 */
import type { KnownFailure } from '../../case.js';

/** Shared with the client suite, whose inflater is the same code. */
export const BFINAL_DIAGNOSIS =
  'After a compressed message whose deflate data ends with a block that has BFINAL set (RFC 7692 §7.2.3.4 allows ' +
  'it), every later compressed message is delivered as an empty message (even corrupt data: no 1007). ' +
  'src/deflate.ts PerMessageDeflate.run(): zlib reports the end of the stream by leaving input unconsumed with ' +
  'output room to spare, and run() returns as if all was consumed; the context stays ended for good. ' +
  'Fix: in run(), when !r.full and inOff < input.length, call z.reset() and continue the loop (the rest is a new stream).';

export const knownServerFailures: Record<string, KnownFailure> = {
  '12.x.4': { diagnosis: BFINAL_DIAGNOSIS },
};
