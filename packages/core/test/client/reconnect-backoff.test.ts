import { describe, expect, it } from 'vitest';
import { backoffDelay, resolveBackoff } from '../../src/client/backoff.js';

describe('full-jitter exponential backoff', () => {
  const backoff = resolveBackoff({ initialDelay: 0.5, maxDelay: 3, factor: 2 })!;

  it('draws the whole range from 0 to the cap', () => {
    expect(backoffDelay(1, backoff, () => 0)).toBe(0);
    expect(backoffDelay(1, backoff, () => 0.5)).toBe(250);
    expect(backoffDelay(1, backoff, () => 0.999)).toBeCloseTo(499.5);
  });

  it('grows the cap by factor per attempt up to maxDelay', () => {
    const caps = [1, 2, 3, 4, 5, 6, 10, 100].map((attempt) => backoffDelay(attempt, backoff, () => 1));
    expect(caps).toEqual([500, 1000, 2000, 3000, 3000, 3000, 3000, 3000]);
  });

  it('stays within bounds with real randomness', () => {
    for (let attempt = 1; attempt <= 50; attempt++) {
      const d = backoffDelay(attempt, backoff);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(3000);
    }
  });
});

describe('reconnect option', () => {
  it('is off unless asked for', () => {
    expect(resolveBackoff(undefined)).toBeUndefined();
    expect(resolveBackoff(false)).toBeUndefined();
  });

  it('has defaults: 1 s, 30 s, factor 2, no attempt limit', () => {
    expect(resolveBackoff(true)).toEqual({ initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2, maxAttempts: Infinity });
  });

  it('raises the default maxDelay to a larger initialDelay', () => {
    expect(resolveBackoff({ initialDelay: 60 })!.maxDelayMs).toBe(60_000);
  });

  it.each([
    [{ initialDelay: 0 }],
    [{ initialDelay: -1 }],
    [{ maxDelay: 1, initialDelay: 2 }],
    [{ factor: 0.5 }],
    [{ maxAttempts: 0 }],
    [{ maxAttempts: 1.5 }],
    ['yes'],
  ])('refuses %j', (value) => {
    expect(() => resolveBackoff(value as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});
