import { expect } from 'vitest';

/**
 * `expect.poll` with room for a loaded machine: the condition is awaited for up to 15 s unless
 * told otherwise (vitest's default is 1 s). It checks state, never how long something took.
 */
export function eventually<T>(
  fn: () => T | Promise<T>,
  options: { timeout?: number; interval?: number } = {},
): ReturnType<typeof expect.poll<T>> {
  return expect.poll(fn, { timeout: 15_000, interval: 20, ...options });
}
