// Core's, shared by every broker: `instanceof DroppedMessageError` holds whichever broker threw it.
export { DroppedMessageError } from '@wsup/core';
