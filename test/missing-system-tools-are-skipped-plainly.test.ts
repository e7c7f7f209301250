/**
 * The README's test command on a machine without redis-server, nats-server or Chromium: the
 * suites that need them are left out with one line each naming what and how to install it, every
 * other suite still runs, and under CI=true the same machine is an error instead of a quiet pass.
 * The machine is simulated by a PATH that lacks the three programs and a CHROMIUM_PATH that does
 * not exist; `vitest list` reads the real config without running anything.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SYSTEM_TOOLS } from '../test-support/system-tools.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = mkdtempSync(join(tmpdir(), 'wsup-fresh-machine-'));
const hidden = new Set(['redis-server', 'nats-server', 'chromium']);
for (const dir of ['/usr/local/bin', '/usr/bin', '/usr/sbin', '/bin']) {
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) {
    if (hidden.has(name) || existsSync(join(bin, name))) continue;
    symlinkSync(join(dir, name), join(bin, name));
  }
}
afterAll(() => rmSync(bin, { recursive: true, force: true }));

function vitestList(ci: boolean) {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin, CHROMIUM_PATH: join(bin, 'no-chromium-here') };
  delete env.CI;
  delete env.WSUP_MISSING_TOOLS;
  if (ci) env.CI = 'true';
  const run = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'list', '--filesOnly'], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

describe('a machine without redis-server, nats-server and Chromium', () => {
  it('leaves out exactly the suites that need them, with one line each saying how to install it', () => {
    const { status, out } = vitestList(false);
    expect(status).toBe(0);
    const lines = out.split('\n');
    for (const tool of SYSTEM_TOOLS) {
      const said = lines.filter((l) => l.startsWith(`skipped (no ${tool.name}):`));
      expect(said).toHaveLength(1);
      expect(said[0]).toContain(tool.install);
    }
    const listed = lines.filter((l) => l.endsWith('.test.ts'));
    for (const gone of [
      'packages/redis/test/broker.test.ts',
      'packages/nats/test/broker.test.ts',
      'examples/chat/test/browser.test.ts',
      'examples/http2/test/browser.test.ts',
      'examples/chat/test/many-processes.test.ts',
    ]) {
      expect(listed).not.toContain(gone);
    }
    // Suites that need none of them still run, the interop suite among them (without its Chromium rows).
    for (const kept of [
      'packages/redis/test/building-blocks.test.ts',
      'packages/core/test/interop/interop.test.ts',
      'examples/chat/test/chat.test.ts',
      'examples/http2/test/clients.test.ts',
    ]) {
      expect(listed).toContain(kept);
    }
  }, 150_000);

  it('is an error under CI=true, naming what to install', () => {
    const { status, out } = vitestList(true);
    expect(status).not.toBe(0);
    expect(out).toMatch(/CI=true and redis-server, nats-server, chromium missing: nothing may be skipped in CI/);
  }, 150_000);
});
