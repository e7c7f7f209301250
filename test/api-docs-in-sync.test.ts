/**
 * docs/api is generated from the TSDoc of every package's public API (`pnpm run docs`; plain `pnpm docs` is pnpm's own command). This test
 * regenerates it into a temp dir and fails when the committed copy differs, so the reference can
 * never drift from the code.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

it('docs/api matches the TSDoc of the code (run `pnpm run docs` after changing a public API)', () => {
  const out = mkdtempSync(join(tmpdir(), 'wsup-api-docs-'));
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/typedoc/bin/typedoc'), '--out', out, '--logLevel', 'Error'], {
      cwd: root,
      stdio: 'pipe',
    });
    const fresh = files(out);
    const committed = files(join(root, 'docs/api'));
    expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
    for (const [name, text] of fresh) expect(committed.get(name), name).toBe(text);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 120_000);
