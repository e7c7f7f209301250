/**
 * Whole-machine CPU from /proc/stat, to tell when something other than the server and the
 * generator was using the cores (a test run in another shell turns a benchmark into noise).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface CpuSample {
  busy: number;
  total: number;
}

export function sampleCpu(): CpuSample | null {
  try {
    const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Cores busy between two samples (0 – number of cores). */
export function busyCores(a: CpuSample | null, b: CpuSample | null): number | null {
  if (!a || !b || b.total <= a.total) return null;
  return ((b.busy - a.busy) / (b.total - a.total)) * cpus().length;
}

/**
 * Waits until the machine is quiet (under `threshold` cores busy over a short sample), at most
 * `maxMs`. Returns the busy cores of the last sample, or null where /proc/stat is missing.
 */
export async function waitForQuiet(threshold: number, maxMs: number): Promise<number | null> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const a = sampleCpu();
    await new Promise((resolve) => setTimeout(resolve, 250));
    const busy = busyCores(a, sampleCpu());
    if (busy === null || busy < threshold || Date.now() >= deadline) return busy;
  }
}
