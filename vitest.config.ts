import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';
import type { Reporter } from 'vitest/node';
import { MISSING_TOOLS_ENV, missingSystemTools, skippedLine } from './test-support/system-tools.js';

const root = fileURLToPath(new URL('.', import.meta.url));

// Tests run against the TypeScript sources of every workspace package, no build step needed.
const alias = Object.fromEntries(
  readdirSync(`${root}packages`)
    .filter((dir) => existsSync(`${root}packages/${dir}/src/index.ts`))
    .map((dir) => [`@wsup/${dir}`, `${root}packages/${dir}/src/index.ts`]),
);

// Suites that drive redis-server, nats-server or Chromium as real peers need them installed. CI
// installs them (.ci/run) and must run everything; elsewhere (a fresh machine) the suites that
// need a missing program are left out, with one line each saying what and how to install it.
const missing = missingSystemTools();
if (missing.length > 0 && process.env.CI) {
  throw new Error(
    `CI=true and ${missing.map((t) => t.name).join(', ')} missing: nothing may be skipped in CI. ` +
      `Install: ${missing.map((t) => t.install).join('; ')} (.ci/run does it).`,
  );
}
const skipped = missing.map(skippedLine);
for (const line of skipped) console.log(line);
// The same lines once more after the summary, where a reader of the run looks.
const sayWhatWasSkipped: Reporter = {
  onTestRunEnd() {
    for (const line of skipped) console.log(line);
  },
};

export default defineConfig({
  resolve: {
    alias,
    conditions: ['@wsup/source'],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...missing.flatMap((t) => t.files)],
    env: { [MISSING_TOOLS_ENV]: missing.map((t) => t.name).join(',') },
    reporters: skipped.length > 0 ? ['default', sayWhatWasSkipped] : ['default'],
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
