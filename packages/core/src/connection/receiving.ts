/**
 * A connection's side of its receiver: it holds one only while a frame or message is partly
 * received or input is deferred, and none between frames (see protocol/spare-receivers.ts), so
 * an idle connection costs no parser state.
 */
import type { MessageDecompressor, Receiver, ReceiverHandler, ReceiverOptions } from '../protocol/receiver.js';
import { giveBack, STOPPED, takeReceiver } from '../protocol/spare-receivers.js';
import { type BudgetMember, mayHold } from './memory-budget.js';
import type { ResolvedOptions } from './options.js';

/** What receiving needs of its connection. */
export interface ReceivingHost extends ReceiverHandler, BudgetMember {
  /** The receiver while something is partly received; undefined between frames; STOPPED at the end. */
  receiver: Receiver | undefined;
  /** What its receiver checks frames against, and the inflater when permessage-deflate was agreed. */
  readonly receiving: ReceiverOptions;
}

/** Settings without an inflater, shared by the connections of one set of options and one side. */
const shared = new WeakMap<ResolvedOptions, { server?: ReceiverOptions; client?: ReceiverOptions }>();

/**
 * A connection's receiver settings. Without an inflater they are the same for every connection
 * of its options, so they are shared; an inflater (its window) is the connection's own.
 */
export function receiverSettings(o: ResolvedOptions, client: boolean, inflater: MessageDecompressor | undefined): ReceiverOptions {
  if (inflater !== undefined) return settingsOf(o, client, inflater);
  let sides = shared.get(o);
  if (sides === undefined) shared.set(o, (sides = {}));
  return client ? (sides.client ??= settingsOf(o, true, undefined)) : (sides.server ??= settingsOf(o, false, undefined));
}

function settingsOf(o: ResolvedOptions, client: boolean, inflater: MessageDecompressor | undefined): ReceiverOptions {
  return { expectMasked: !client, maxPayload: o.maxPayload, maxFragments: o.maxFragments, frameMode: o.frames, decompressor: inflater };
}

/** Parses a read, with the receiver the connection holds or a spare; gives it back if the read ended between frames. */
export function receive(host: ReceivingHost, chunk: Buffer): void {
  const receiver = (host.receiver ??= takeReceiver(host, host.receiving));
  receiver.push(chunk);
  giveBackIfIdle(host, receiver);
}

/** Parses input deferred between inflated messages; `all` of it when the input has ended. */
export function resumeReceiving(host: ReceivingHost, all: boolean): void {
  const receiver = host.receiver;
  if (receiver === undefined) return;
  receiver.resumeParsing(all);
  giveBackIfIdle(host, receiver);
}

/**
 * After parsing: back to the spares if nothing is partly received, unless reading stopped (or the
 * receiver changed) meanwhile. A receiver kept holds what is partly received, for the memory budget.
 */
function giveBackIfIdle(host: ReceivingHost, receiver: Receiver): void {
  // A stopped receiver (reading ended) holds nothing, whatever its state says.
  if (host.receiver !== receiver || receiver === STOPPED) return;
  if (receiver.isIdle) host.receiver = giveBack(receiver);
  else mayHold(host);
}

/** Ignores all further input: a message partly received is dropped. */
export function stopReceiving(host: ReceivingHost): void {
  host.receiver?.stop();
  host.receiver = STOPPED;
}
