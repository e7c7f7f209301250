/**
 * The wsup configurations the server cases talk to, by the name a case gives as `subject` (sent
 * as the request path). "" is wsup's defaults: no compression.
 */
import type { DeflateOptions, UpgradeOptions } from '@wsup/core';

/**
 * permessage-deflate's server defaults before issue 20 (context takeover both ways, level 1,
 * 15-bit windows), set explicitly: the cases written for them keep their meaning.
 */
const OLD: DeflateOptions = { level: 1, serverNoContextTakeover: false, clientNoContextTakeover: false, clientMaxWindowBits: 15 };

export const serverSubjects: Record<string, UpgradeOptions> = {
  /** permessage-deflate with the former defaults (threshold 1024, level 1, 15-bit windows, context takeover both ways). */
  pmd: { compress: OLD },
  /** Today's defaults (`compress: true`): one shared deflater, the client's context bounded. */
  'pmd-default': { compress: true },
  /** Compresses every message, however small. */
  'pmd-t0': { compress: { ...OLD, threshold: 0 } },
  /** A small maxPayload, so that limits and bombs are cheap to reach. */
  'pmd-64k': { compress: OLD, maxPayload: 64 * 1024 },
  /** No context takeover either way. */
  'pmd-nct': { compress: { serverNoContextTakeover: true, clientNoContextTakeover: true } },
  /** Windows of its own choosing. */
  'pmd-win': { compress: { ...OLD, serverMaxWindowBits: 10, clientMaxWindowBits: 11 } },
  'pmd-win8': { compress: { ...OLD, serverMaxWindowBits: 8, clientMaxWindowBits: 8 } },
};
