/**
 * Server cases wsup fails today, by case id, with the diagnosis (file/function, and the fix). Each
 * runs as `it.fails`: when the bug is fixed the test turns red, and its entry here is to be removed.
 *
 * Fixed so far: 3.2, 4.1.3–4.1.5, 4.2.3–4.2.5 and 5.15 (until 41aefc0: an echo of a message read
 * together with a bad frame was lost because the failure's close frame went out synchronously,
 * before the application could answer); 12.x.4 (a compressed message ending in a BFINAL block left
 * the inflater ended for good; PerMessageDeflate.run() now starts a new stream).
 */
import type { KnownFailure } from '../../case.js';

export const knownServerFailures: Record<string, KnownFailure> = {};
