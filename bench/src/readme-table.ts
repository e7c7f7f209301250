/**
 * Prints the README's benchmark table and its heading line from bench/results/latest.json, so the
 * README always shows the committed run: `pnpm --dir bench readme-table`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './processes.js';
import type { BenchReport } from './report.js';

const COLUMNS: [server: string, heading: string][] = [
  ['ws', 'ws'],
  ['ws-native', 'ws + native addons'],
  ['uws', 'uWebSockets.js'],
  ['raw-net', 'raw node:net'],
  ['wsup', '**wsup**'],
  ['wsup-iter', 'wsup `for await`'],
  ['wsup-express', 'Express'],
  ['wsup-fastify', 'Fastify'],
  ['wsup-koa', 'Koa'],
];

const report = JSON.parse(readFileSync(join(BENCH_DIR, 'results', 'latest.json'), 'utf8')) as BenchReport;
const m = report.machine;
const date = report.date.replace('T', ' ').slice(0, 16);
const lines = [
  `Run of ${date} UTC on ${m.cpu}, ${m.cores} cores, ${m.memory}, Node ${m.node}, ${m.os}; ${m.pinning}; medians of ${report.config.rounds} rounds. Throughput in messages per second (broadcast: deliveries per second); idle in server RSS per connection. Ratios are to pure \`ws\` in the same run.`,
  '',
  `| scenario | target | ${COLUMNS.map(([, h]) => h).join(' | ')} |`,
  `| --- | --- |${COLUMNS.map(() => ' ---: |').join('')}`,
];
for (const result of report.scenarios) {
  const s = result.scenario;
  const idle = s.kind === 'idle';
  const target = result.target;
  const bound = 'min' in target ? `≥ ${target.min}×` : `≤ ${target.max}×`;
  const cells = COLUMNS.map(([name]) => {
    const entry = result.servers.find((e) => e.name === name);
    if (!entry?.median || entry.status !== 'ok') return '–';
    const value = idle
      ? `${((entry.median as { rssPerConn: number }).rssPerConn / 1024).toFixed(1)} KiB`
      : Math.round((entry.median as { msgsPerSec: number }).msgsPerSec).toLocaleString('en-US');
    const cell = name === 'ws' ? value : `${value} (${entry.ratio!.toFixed(2)}×)`;
    return name === 'wsup' ? `**${cell}**` : cell;
  });
  lines.push(`| ${s.name}: ${s.title} | ${bound} (${target.met ? 'met' : 'not met'}) | ${cells.join(' | ')} |`);
}
process.stdout.write(`${lines.join('\n')}\n`);
