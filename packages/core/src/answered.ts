/**
 * Errors `upgrade()` throws after it has sent the HTTP answer itself (a 400/403/405/426 refusal,
 * or a 500 for bad options). The upgrade router uses this to keep such an error, escaping a
 * request handler, from crashing the process: nothing is left to respond.
 */
const answered = new WeakSet<object>();

export function markAnswered<T extends object>(err: T): T {
  answered.add(err);
  return err;
}

/** Whether `upgrade()` threw `err` after answering the request itself. */
export function wasAnswered(err: unknown): boolean {
  return typeof err === 'object' && err !== null && answered.has(err);
}
