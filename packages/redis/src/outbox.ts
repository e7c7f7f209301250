/** A message waiting for Redis to come back. */
export interface Pending {
  channel: string;
  message: Buffer;
}

/**
 * The publishes waiting for Redis (unreachable, or connected but behind on its answers), in
 * order, bounded by a message count and a byte count (whichever is reached first).
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
    if (this.size + 1 > this.maxMessages || this.byteCount + item.message.length > this.maxBytes) return false;
    this.items.push(item);
    this.byteCount += item.message.length;
    return true;
  }

  /** The oldest message, left in place. */
  peek(): Pending | undefined {
    return this.items[0];
  }

  /** Removes and returns the oldest message. */
  shift(): Pending | undefined {
    const item = this.items.shift();
    if (item) this.byteCount -= item.message.length;
    return item;
  }

  /** The distinct channels with messages waiting. */
  channels(): Set<string> {
    const out = new Set<string>();
    for (const item of this.items) out.add(item.channel);
    return out;
  }

  /** Removes and returns everything, oldest first. */
  takeAll(): Pending[] {
    const out = this.items;
    this.items = [];
    this.byteCount = 0;
    return out;
  }
}
