/**
 * The system programs some suites drive as real peers (redis-server, nats-server, Chromium), and
 * which suites need each. On a machine without one, `vitest.config.ts` leaves those suites out and
 * says so in one line each; under `CI=true` a missing program is an error instead, because CI
 * (`.ci/run`) installs them and a suite that silently stopped running would prove nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where Chromium is; `CHROMIUM_PATH` points elsewhere (another distribution's build, say). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export type SystemToolName = 'redis-server' | 'nats-server' | 'chromium';

export interface SystemTool {
  name: SystemToolName;
  /** Whether this machine has it. */
  present: () => boolean;
  /** How to install it on Debian/Ubuntu. */
  install: string;
  /** Test files (globs from the repository's root) that cannot run without it. */
  files: string[];
  /** What is not tested without it, for the line that says so. */
  covers: string;
}

function runs(command: string, args: string[]): boolean {
  const probe = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  return !probe.error && probe.status === 0;
}

export const SYSTEM_TOOLS: readonly SystemTool[] = [
  {
    name: 'redis-server',
    present: () => runs('redis-server', ['--version']),
    install: 'sudo apt-get install redis-server',
    files: [
      'packages/redis/test/broker-suite.test.ts',
      'packages/redis/test/broker-suite-cluster.test.ts',
      'packages/redis/test/broker.test.ts',
      'packages/redis/test/cluster.test.ts',
      'packages/redis/test/redis-restart.test.ts',
      'packages/redis/test/three-nodes.test.ts',
      'examples/chat/test/many-processes.test.ts',
      'examples/chat/test/other-brokers.test.ts',
    ],
    covers: '@wsup/redis on real Redis servers and clusters, the chat across processes',
  },
  {
    name: 'nats-server',
    present: () => runs('nats-server', ['--version']),
    install: 'sudo apt-get install nats-server',
    files: ['packages/nats/test/**/*.test.ts', 'examples/chat/test/other-brokers.test.ts'],
    covers: '@wsup/nats on real NATS servers and clusters, the chat on NATS',
  },
  {
    name: 'chromium',
    present: () => existsSync(CHROMIUM_PATH),
    install: 'sudo apt-get install chromium (or set CHROMIUM_PATH to a Chromium build)',
    files: ['examples/chat/test/browser.test.ts', 'examples/http2/test/browser.test.ts'],
    covers: "the demos in a real browser and the interop suite's Chromium cells",
  },
];

/** Set by vitest.config.ts for the test processes: the missing tools' names, comma-separated. */
export const MISSING_TOOLS_ENV = 'WSUP_MISSING_TOOLS';

/** The tools this machine lacks (probed once, in the process that reads the config). */
export function missingSystemTools(): SystemTool[] {
  return SYSTEM_TOOLS.filter((tool) => !tool.present());
}

/** Inside a test process: whether a suite that needs this tool runs (see vitest.config.ts). */
export function hasSystemTool(name: SystemToolName): boolean {
  const missing = process.env[MISSING_TOOLS_ENV];
  return missing === undefined ? SYSTEM_TOOLS.find((t) => t.name === name)!.present() : !missing.split(',').includes(name);
}

/** The line printed for a missing tool. */
export function skippedLine(tool: SystemTool): string {
  return `skipped (no ${tool.name}): ${tool.covers}. To run them: ${tool.install}`;
}
