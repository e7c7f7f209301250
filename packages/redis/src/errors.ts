// Core's, shared by every broker: `instanceof DroppedMessageError` holds whichever broker threw it.
export { brokerUnavailable as unreachable, DroppedMessageError } from '@wsup/core';
