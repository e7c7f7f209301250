/**
 * The wsup configurations the server cases talk to, by the name a case gives as `subject` (sent
 * as the request path). "" is wsup's defaults: no compression.
 */
import type { UpgradeOptions } from '@wsup/core';

export const serverSubjects: Record<string, UpgradeOptions> = {
  /** permessage-deflate with its defaults (threshold 1024, level 1, 15-bit windows). */
  pmd: { compress: true },
  /** Compresses every message, however small. */
  'pmd-t0': { compress: { threshold: 0 } },
  /** A small maxPayload, so that limits and bombs are cheap to reach. */
  'pmd-64k': { compress: true, maxPayload: 64 * 1024 },
  /** No context takeover either way. */
  'pmd-nct': { compress: { serverNoContextTakeover: true, clientNoContextTakeover: true } },
  /** Windows of its own choosing. */
  'pmd-win': { compress: { serverMaxWindowBits: 10, clientMaxWindowBits: 11 } },
  'pmd-win8': { compress: { serverMaxWindowBits: 8, clientMaxWindowBits: 8 } },
};
