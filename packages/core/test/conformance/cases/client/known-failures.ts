/**
 * Client cases wsup fails today, by case id, with the diagnosis (file/function, and the fix). Each
 * runs as `it.fails`: when the bug is fixed the test turns red, and its entry here is to be removed.
 *
 * Fixed so far: 12.x.4 (see the server list) and 13.c.81 (an answer that leaves out the
 * server_max_window_bits the client asked for is now refused, RFC 7692 §7.1.2.1).
 */
import type { KnownFailure } from '../../case.js';

export const knownClientFailures: Record<string, KnownFailure> = {};
