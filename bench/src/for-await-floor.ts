/**
 * `pnpm --dir bench for-await-floor`: what a `for await` loop costs per item by itself, against a
 * callback, with no library in between: an async iterator whose `next()` returns an
 * already-settled promise of a fresh result. `for await` awaits every step (a promise and a
 * microtask per item, whatever the iterator does), so this is the least any `for await` API adds
 * per message over an event listener; set against a server's CPU per small message, it bounds how
 * close the two handler styles can come.
 */
const ITEMS = 2_000_000;
const ROUNDS = 7;
const message = 'x'.repeat(32);
let sink = 0;

function onMessage(m: string): void {
  sink += m.length;
}

function callbacks(): void {
  for (let i = 0; i < ITEMS; i++) onMessage(message);
}

function settledSteps(): AsyncIterableIterator<string> {
  let i = 0;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next(): Promise<IteratorResult<string>> {
      return Promise.resolve(i++ < ITEMS ? { value: message, done: false } : { value: undefined, done: true });
    },
  };
}

async function forAwait(): Promise<void> {
  for await (const m of settledSteps()) sink += m.length;
}

function nsPerItem(ns: bigint): number {
  return Number(ns) / ITEMS;
}

const callback: number[] = [];
const loop: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  let t = process.hrtime.bigint();
  callbacks();
  callback.push(nsPerItem(process.hrtime.bigint() - t));
  t = process.hrtime.bigint();
  await forAwait();
  loop.push(nsPerItem(process.hrtime.bigint() - t));
}
// Every item reached its handler in both styles (and the sum keeps the loops from being optimised away).
if (sink !== 2 * ROUNDS * ITEMS * message.length) throw new Error(`lost items: ${sink}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
process.stdout.write(
  `per item, median of ${ROUNDS} rounds of ${ITEMS.toLocaleString('en-US')}: callback ${median(callback).toFixed(1)} ns, ` +
    `for await ${median(loop).toFixed(1)} ns (range ${Math.min(...loop).toFixed(1)}–${Math.max(...loop).toFixed(1)})\n`,
);
