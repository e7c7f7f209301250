/**
 * A token bucket per connection: `burst` messages at once, refilled at `perSecond`. A person
 * typing never meets it; a script flooding a room does.
 */
export interface RateLimit {
  /** Messages allowed in a row. */
  burst: number;
  /** Messages regained per second. */
  perSecond: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limit: RateLimit,
    // Injectable so tests can move time without waiting for it.
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = limit.burst;
    this.last = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.limit.burst, this.tokens + ((t - this.last) / 1000) * this.limit.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
