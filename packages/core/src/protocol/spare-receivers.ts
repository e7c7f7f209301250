/**
 * Receivers no connection holds. Between frames a receiver holds nothing but its settings (each
 * new frame and message sets its own state afresh), so a connection need not keep one while
 * idle: it gives its receiver back when a read ends between frames and takes one for its next
 * read. JavaScript parses one read at a time, so a handful serve a whole process.
 */
import { Receiver, type ReceiverHandler, type ReceiverOptions } from './receiver.js';

/** The handler of a receiver nobody holds: it calls nothing, and keeps no closed connection reachable. */
const DETACHED: ReceiverHandler = {
  onMessage() {},
  onFragment() {},
  onControl() {},
  onError() {},
  onDeferred() {},
};
const NO_SETTINGS: ReceiverOptions = { expectMasked: true, maxPayload: 0, maxFragments: 0, frameMode: false };

const spare: Receiver[] = [];
/** Spares kept; more are let go. */
const SPARE_KEPT = 8;

/** A receiver for a connection's next read: a spare with the connection's settings, or a new one. */
export function takeReceiver(handler: ReceiverHandler, settings: ReceiverOptions): Receiver {
  const receiver = spare.pop();
  if (receiver === undefined) return new Receiver(handler, settings);
  receiver.configure(handler, settings);
  return receiver;
}

/** Takes back a receiver that is idle (`isIdle`) and that its connection no longer holds. */
export function giveBack(receiver: Receiver): undefined {
  receiver.configure(DETACHED, NO_SETTINGS);
  if (spare.length < SPARE_KEPT) spare.push(receiver);
  return undefined;
}

/** A receiver that ignores all input: what a connection holds once reading has ended. */
export const STOPPED: Receiver = new Receiver(DETACHED, NO_SETTINGS);
STOPPED.stop();
