import { BrokerOutbox } from '@wsup/core';

/** A message waiting for Redis to come back (or to catch up): its channel and envelope. */
export interface Pending {
  channel: string;
  message: Buffer;
}

/** The publishes waiting for Redis, in order, within core's bounds. */
export class Outbox extends BrokerOutbox<Pending> {
  /** The distinct channels with messages waiting. */
  channels(): Set<string> {
    const out = new Set<string>();
    for (const item of this.items) out.add(item.channel);
    return out;
  }
}
