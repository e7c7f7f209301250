/**
 * Most messages sent and not yet answered. Far above any burst a healthy Redis answers in time
 * (the byte bound, maxBufferedBytes, usually comes first); it caps ioredis's per-command memory
 * when messages are tiny.
 */
const MAX_UNANSWERED = 65_536;

/**
 * Whether `size` more bytes would put more than the bounds unanswered, with `count` messages of
 * `bytes` unanswered now: a Redis that is connected but not answering would otherwise let
 * messages pile up without bound. With nothing unanswered, a message goes whatever its size.
 */
export function overUnansweredBound(count: number, bytes: number, size: number, maxBytes: number): boolean {
  return count > 0 && (count >= MAX_UNANSWERED || bytes + size > maxBytes);
}

/**
 * The messages sent on one connection and not answered yet, oldest first (Redis answers a
 * connection's commands in order).
 *
 * When the connection drops, ioredis settles none of them in time: with
 * `autoResendUnfulfilledCommands` off, a reconnect starts a new command queue and the old
 * commands' promises never settle, and only after `maxRetriesPerRequest` failed reconnects does
 * it reject them. So the publishers write them off when the connection closes and ignore
 * whatever they do later: a publisher that kept counting them would stay "behind" for good.
 */
export class InFlight {
  /** Messages sent and not answered. */
  count = 0;
  /** Their payload bytes. */
  bytes = 0;
  /**
   * Their channels, oldest at `head`. Answered ones are skipped, not shifted out: `shift()` on an
   * array of tens of thousands of entries copies them all, once per answer.
   */
  private channels: string[] = [];
  private head = 0;

  /** A message of `size` bytes went out on `channel`. */
  sent(channel: string, size: number): void {
    this.count++;
    this.bytes += size;
    this.channels.push(channel);
  }

  /** The oldest message was answered (or refused). */
  answered(size: number): void {
    this.count--;
    this.bytes -= size;
    if (this.count === 0) {
      this.channels.length = 0;
      this.head = 0;
    } else if (++this.head >= 1024 && this.head * 2 >= this.channels.length) {
      this.channels = this.channels.slice(this.head);
      this.head = 0;
    }
  }

  /** The channel of the oldest message not answered. */
  get first(): string | undefined {
    return this.count > 0 ? this.channels[this.head] : undefined;
  }
}
