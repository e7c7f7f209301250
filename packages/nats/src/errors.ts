// Core's, shared by every broker: `instanceof DroppedMessageError` holds whichever broker threw it.
export { brokerUnavailable as unreachable, DroppedMessageError } from '@wsup/core';

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
