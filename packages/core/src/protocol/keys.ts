import { createHash, randomBytes } from 'node:crypto';
import { WS_GUID } from './constants.js';

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2 item 5.4). */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (RFC 6455 §4.1 item 7). */
export function newKey(): string {
  return randomBytes(16).toString('base64');
}
