/**
 * The validators every option goes through, so that each mistake is reported the same way: a
 * TypeError or RangeError with `code: 'ERR_INVALID_OPTION'` that names the option.
 */
import { rangeError, typeError } from './errors.js';

/** An options object, or `{}` for undefined/null. */
export function checkObject(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') throw typeError(`${what} must be an object`);
  return value as Record<string, unknown>;
}

/** A positive number (or Infinity where allowed) with a default. */
export function positiveNumber(value: unknown, name: string, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw rangeError(`${name} must be a positive number${allowInfinity ? ' or Infinity' : ''}, got ${String(value)}`);
  }
  return value;
}

/** An integer from `min` to `max` with a default. */
export function integerIn(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw rangeError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** A whole number of at least 1, or Infinity (the default): for counts that may be unlimited. */
export function count(value: unknown, name: string): number {
  if (value === undefined || value === Infinity) return Infinity;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw rangeError(`${name} must be a whole number of at least 1, or Infinity, got ${String(value)}`);
  }
  return value;
}

/** One of a few strings, with a default. */
export function oneOf<T extends string>(value: unknown, name: string, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value as T)) throw rangeError(`${name} must be ${choices.map((c) => `'${c}'`).join(' or ')}, got ${String(value)}`);
  return value as T;
}

/** Longest duration a Node timer can wait: 2^31 − 1 ms, in whole seconds. */
const MAX_SECONDS = 2_147_483;

/** A duration in seconds (0 allowed when `allowZero`), returned in milliseconds. */
export function seconds(value: unknown, name: string, fallbackSeconds: number, allowZero = false): number {
  if (value === undefined) return fallbackSeconds * 1000;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0) || value > MAX_SECONDS) {
    throw rangeError(`${name} must be a number of seconds${allowZero ? ' (0 or more)' : ' above 0'}, got ${String(value)}`);
  }
  return value * 1000;
}

/** A boolean with a default. */
export function boolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError(`${name} must be a boolean, got ${typeof value}`);
  return value;
}
