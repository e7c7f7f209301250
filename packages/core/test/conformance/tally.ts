/**
 * Counts verdicts for the one-line summary a suite prints at the end of its run, so that a case
 * that starts failing (or a known failure that starts passing) shows in CI output at a glance.
 */
import { sectionOf, type ConformanceCase } from './case.js';

/**
 * pass: as expected. known-failure: fails as its `knownFailure` says. fail: fails unexpectedly.
 * fixed: listed as a known failure but passes (its `it.fails` test turns red to say so).
 */
export type Verdict = 'pass' | 'known-failure' | 'fail' | 'fixed';

const ORDER: Verdict[] = ['pass', 'known-failure', 'fail', 'fixed'];

export function verdictOf(c: ConformanceCase, problems: string[]): Verdict {
  if (problems.length === 0) return c.knownFailure ? 'fixed' : 'pass';
  return c.knownFailure ? 'known-failure' : 'fail';
}

export class Tally {
  private readonly bySection = new Map<string, Map<Verdict, number>>();
  private readonly started = Date.now();

  record(c: ConformanceCase, verdict: Verdict): void {
    const section = sectionOf(c);
    let counts = this.bySection.get(section);
    if (!counts) this.bySection.set(section, (counts = new Map()));
    counts.set(verdict, (counts.get(verdict) ?? 0) + 1);
  }

  /** e.g. `conformance server: 301 cases: 297 pass, 4 known-failure in 38.2 s | §1 16 pass | …` */
  line(label: string): string {
    const total = new Map<Verdict, number>();
    const sections = [...this.bySection.entries()].sort(([a], [b]) => Number(a) - Number(b));
    const parts: string[] = [];
    for (const [section, counts] of sections) {
      for (const [v, n] of counts) total.set(v, (total.get(v) ?? 0) + n);
      parts.push(`§${section} ${fmt(counts)}`);
    }
    const cases = [...total.values()].reduce((a, b) => a + b, 0);
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    return `conformance ${label}: ${cases} cases: ${fmt(total)} in ${secs} s | ${parts.join(' | ')}`;
  }
}

function fmt(counts: Map<Verdict, number>): string {
  return ORDER.filter((v) => counts.has(v))
    .map((v) => `${counts.get(v)} ${v}`)
    .join(', ');
}
