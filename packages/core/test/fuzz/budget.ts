/**
 * How hard the fuzz properties try. The default test run gives each property its small `base`
 * number of runs; `pnpm fuzz` sets WSUP_FUZZ=1 and each property then gets `base * 500` runs,
 * bounded by WSUP_FUZZ_SECONDS of wall time per property (default 20), and the total number of
 * inputs tried is printed at the end.
 */
import fc from 'fast-check';

export const campaign = process.env.WSUP_FUZZ === '1';
const scale = campaign ? Number(process.env.WSUP_FUZZ_SCALE ?? 500) : 1;
const seconds = Number(process.env.WSUP_FUZZ_SECONDS ?? 20);

/** vitest timeout for a property test: generous in a campaign, the usual one otherwise. */
export const propertyTimeout = campaign ? (seconds + 30) * 1000 : 20_000;

const tried = new Map<string, number>();

/**
 * Checks a property like `fc.assert`, with this run's budget, and counts the inputs tried. A
 * campaign that runs out of time stops early without failing: the inputs it tried still count.
 */
export function check<Ts extends [unknown, ...unknown[]]>(name: string, property: fc.IProperty<Ts>, base: number): void {
  const details = fc.check(property, {
    numRuns: base * scale,
    ...(campaign ? { interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false } : {}),
  });
  tried.set(name, (tried.get(name) ?? 0) + details.numRuns);
  if (details.failed) {
    // fast-check's own report: the counterexample, the seed and the path to replay it.
    throw new Error(fc.defaultReportMessage(details) ?? 'property failed');
  }
}

/** One line: how many inputs each property was tried on, and the total. */
export function summary(): string {
  const total = [...tried.values()].reduce((a, b) => a + b, 0);
  const parts = [...tried.entries()].map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`);
  return `fuzz${campaign ? ' campaign' : ''}: ${total.toLocaleString('en-US')} inputs tried by ${tried.size} properties (${parts.join('; ')})`;
}
