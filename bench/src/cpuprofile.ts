/** Reads a V8 .cpuprofile (as written by `node --cpu-prof`) and totals self time per function. */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  category: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time not in '(idle)': what the process spent running (idle also hides the read syscalls). */
  busyMs: number;
  functions: FunctionTime[];
  categories: { category: string; selfMs: number; share: number }[];
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function where(frame: CallFrame): string {
  if (!frame.url) return '';
  let path = frame.url;
  if (path.startsWith('file://')) path = relative(ROOT, fileURLToPath(path.replace(/\?.*$/, '')));
  // Code compiled on load by tsx reports line 0 for everything; the file is then all there is.
  return frame.lineNumber > 0 ? `${path}:${frame.lineNumber + 1}` : path;
}

/** Where the time goes, coarsely: the core's code, Node's own JS, V8's GC, native code. */
function category(frame: CallFrame): string {
  const { functionName: name, url } = frame;
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'native (V8/libuv/syscalls outside JS)';
  if (url.includes('packages/core/')) return 'wsup core';
  if (url.startsWith('node:')) return 'Node internals (JS)';
  if (url.includes('/bench/')) return 'bench harness';
  if (url === '') return 'native builtins';
  return 'other JS';
}

/**
 * Self time per function, optionally restricted to a window on the profile's clock (µs,
 * CLOCK_MONOTONIC on Linux, which `process.hrtime` also reads).
 */
export function summarise(path: string, window?: { from: number; to: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    // A sample stands for the time until the next one.
    const span = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1]! : 0;
    if (window && (t < window.from || t > window.to)) continue;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + span);
    total += span;
  }

  const functions = new Map<string, FunctionTime>();
  const categories = new Map<string, number>();
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    const name = frame.functionName || '(anonymous)';
    const at = where(frame);
    const key = `${name} ${at}`;
    const cat = category(frame);
    const f = functions.get(key) ?? { name, where: at, category: cat, selfMs: 0, share: 0 };
    f.selfMs += us / 1000;
    functions.set(key, f);
    categories.set(cat, (categories.get(cat) ?? 0) + us / 1000);
  }
  const totalMs = total / 1000;
  const busyMs = totalMs - (categories.get('idle') ?? 0);
  const sorted = [...functions.values()].sort((a, b) => b.selfMs - a.selfMs);
  for (const f of sorted) f.share = totalMs > 0 ? f.selfMs / totalMs : 0;
  return {
    totalMs,
    busyMs,
    functions: sorted,
    categories: [...categories]
      .map(([c, v]) => ({ category: c, selfMs: v, share: totalMs > 0 ? v / totalMs : 0 }))
      .sort((a, b) => b.selfMs - a.selfMs),
  };
}

export function formatSummary(s: ProfileSummary, top = 25): string {
  const pct = (v: number): string => `${(v * 100).toFixed(1).padStart(5)}%`;
  const busy = (ms: number, idle: boolean): string => (idle || s.busyMs <= 0 ? '      ' : pct(ms / s.busyMs));
  const lines = [
    `sampled ${s.totalMs.toFixed(0)} ms, ${s.busyMs.toFixed(0)} ms of it not idle ('idle' is the event loop waiting, and includes socket reads)`,
    '',
    ' total    busy   by category (self time)',
  ];
  for (const c of s.categories) lines.push(`${pct(c.share)}  ${busy(c.selfMs, c.category === 'idle')}  ${c.category}`);
  lines.push('', ` total    busy   top ${top} functions by self time`);
  for (const f of s.functions.slice(0, top)) {
    lines.push(`${pct(f.share)}  ${busy(f.selfMs, f.category === 'idle')}  ${f.name.padEnd(30)} ${f.where}`);
  }
  return lines.join('\n');
}

const invokedPath = process.argv[1] ?? '';
if (invokedPath.endsWith('cpuprofile.ts') || invokedPath.endsWith('cpuprofile.js')) {
  // As a script: summarise whatever profile is named on the command line.
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx src/cpuprofile.ts FILE.cpuprofile [TOP]');
    process.exit(2);
  }
  console.log(formatSummary(summarise(file), Number(process.argv[3] ?? 25)));
}
