import { rangeError, typeError } from '../errors.js';
import { checkObject, positiveNumber, seconds } from '../option-validators.js';

/** Reconnection with exponential backoff and full jitter. Durations in seconds. */
export interface ReconnectOptions {
  /** Upper bound of the first retry's delay. Default 1. */
  initialDelay?: number;
  /** Largest upper bound any delay can reach. Default 30. */
  maxDelay?: number;
  /** How much the upper bound grows per attempt. Default 2. */
  factor?: number;
  /** Most retries in a row (reset once a connection opens). Default Infinity. */
  maxAttempts?: number;
}

/** {@link ReconnectOptions} after defaults and validation; durations in milliseconds. */
export interface Backoff {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  maxAttempts: number;
}

export const BackoffDefaults = {
  initialDelay: 1,
  maxDelay: 30,
  factor: 2,
  maxAttempts: Infinity,
} as const;

/** Reads the `reconnect` option: false/undefined for none, true for the defaults, or settings. */
export function resolveBackoff(value: boolean | ReconnectOptions | undefined): Backoff | undefined {
  if (value === undefined || value === false) return undefined;
  if (value !== true && (typeof value !== 'object' || value === null)) {
    throw typeError('reconnect must be a boolean or { initialDelay, maxDelay, factor, maxAttempts }');
  }
  const o = checkObject(value === true ? {} : value, 'reconnect');
  const initialDelayMs = seconds(o.initialDelay, 'reconnect.initialDelay', BackoffDefaults.initialDelay);
  const maxDelayMs = seconds(o.maxDelay, 'reconnect.maxDelay', Math.max(BackoffDefaults.maxDelay, initialDelayMs / 1000));
  if (maxDelayMs < initialDelayMs) throw rangeError('reconnect.maxDelay must be at least reconnect.initialDelay');
  const factor = positiveNumber(o.factor, 'reconnect.factor', BackoffDefaults.factor);
  if (factor < 1) throw rangeError(`reconnect.factor must be 1 or more, got ${factor}`);
  const maxAttempts = positiveNumber(o.maxAttempts, 'reconnect.maxAttempts', BackoffDefaults.maxAttempts, true);
  if (maxAttempts !== Infinity && !Number.isInteger(maxAttempts)) {
    throw rangeError(`reconnect.maxAttempts must be a whole number or Infinity, got ${maxAttempts}`);
  }
  return { initialDelayMs, maxDelayMs, factor, maxAttempts };
}

/**
 * The delay before retry number `attempt` (1 for the first), in milliseconds: uniformly random
 * between 0 and `min(maxDelay, initialDelay × factor^(attempt − 1))` ("full jitter"), so clients
 * dropped together by a server restart do not all come back at the same instant.
 */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const cap = Math.min(backoff.maxDelayMs, backoff.initialDelayMs * backoff.factor ** (attempt - 1));
  return random() * cap;
}
