import { BrokerOutbox } from '@wsup/core';

/** A message waiting for NATS to come back: its topic (for a drop report), subject and envelope. */
export interface Pending {
  topic: string;
  subject: string;
  message: Buffer;
}

/**
 * The publishes waiting while NATS is unreachable, in order, within core's bounds. The broker's
 * only buffer: the client never gets a message while it is disconnected, since its own buffer is
 * unbounded and thrown away on every reconnect attempt.
 */
export class Outbox extends BrokerOutbox<Pending> {}
