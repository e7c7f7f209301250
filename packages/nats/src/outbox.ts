/** A message waiting for NATS to come back. */
export interface Pending {
  topic: string;
  subject: string;
  message: Buffer;
}

/**
 * The publishes waiting while NATS is unreachable, in order, bounded by a message count and a
 * byte count (whichever is reached first). The broker's only buffer: the client never gets a
 * message while it is disconnected, since its own buffer is unbounded and thrown away on every
 * reconnect attempt.
 */
export class Outbox {
  private items: Pending[] = [];
  private byteCount = 0;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {}

  /** Messages waiting. */
  get size(): number {
    return this.items.length;
  }

  /** Bytes of the messages waiting. */
  get bytes(): number {
    return this.byteCount;
  }

  /** Queues `item`; false (and nothing queued) when it does not fit under the bounds. */
  push(item: Pending): boolean {
    if (this.items.length + 1 > this.maxMessages || this.byteCount + item.message.length > this.maxBytes) return false;
    this.items.push(item);
    this.byteCount += item.message.length;
    return true;
  }

  /** Removes and returns everything, oldest first. */
  takeAll(): Pending[] {
    const out = this.items;
    this.items = [];
    this.byteCount = 0;
    return out;
  }
}
