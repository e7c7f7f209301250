/**
 * Keeps the architecture honest by reading the imports (type-only imports included):
 * `@wsup/core`'s folders form layers and each imports only from the ones below it
 * (docs/architecture.md lists them), the protocol layer touches no sockets or HTTP, adapters and
 * brokers use only core's public entry point, and no source file anywhere imports itself in a
 * circle.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const coreSrc = join(root, 'packages/core/src');

/** Core's layers, lowest first. Folders on the same rank must not import each other. */
const LAYERS: Record<string, number> = {
  '.': 0, // errors.ts, option-validators.ts
  protocol: 1,
  'permessage-deflate': 2,
  topics: 3,
  connection: 4,
  server: 5,
  client: 5,
  testing: 6,
};

/** What the protocol layer may use from Node: bytes and crypto, never sockets, streams or HTTP. */
const PROTOCOL_NODE_MODULES = new Set(['node:buffer', 'node:crypto', 'node:os']);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function importsOf(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

/** The file a relative import names (`./x.js` is `./x.ts` in the sources). */
function resolveRelative(from: string, spec: string): string {
  return resolve(dirname(from), spec.replace(/\.js$/, '.ts'));
}

function layerOf(file: string): string {
  const rel = relative(coreSrc, file);
  return rel.includes('/') ? rel.split('/')[0]! : '.';
}

const packageSources = readdirSync(join(root, 'packages')).flatMap((p) => {
  const dir = join(root, 'packages', p, 'src');
  return statSync(dir, { throwIfNoEntry: false })?.isDirectory() ? sourceFiles(dir) : [];
});
const exampleSources = readdirSync(join(root, 'examples')).flatMap((p) => {
  const dir = join(root, 'examples', p, 'src');
  return statSync(dir, { throwIfNoEntry: false })?.isDirectory() ? sourceFiles(dir) : [];
});

describe('@wsup/core layers', () => {
  const files = sourceFiles(coreSrc).filter((f) => relative(coreSrc, f) !== 'index.ts');

  it('every source file sits in a known layer', () => {
    const unknown = files.map((f) => relative(coreSrc, f)).filter((f) => !(layerOf(join(coreSrc, f)) in LAYERS));
    expect(unknown).toEqual([]);
  });

  it('each layer imports only from the layers below it (or from itself)', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const to = layerOf(resolveRelative(file, spec));
        if (to === from) continue;
        if (!(LAYERS[to]! < LAYERS[from]!)) violations.push(`${relative(coreSrc, file)} (${from}) imports ${spec} (${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('protocol/ handles bytes only: no sockets, streams or HTTP', () => {
    const used = files
      .filter((f) => layerOf(f) === 'protocol')
      .flatMap((f) =>
        importsOf(f)
          .filter((s) => !s.startsWith('.') && !PROTOCOL_NODE_MODULES.has(s))
          .map((s) => `${relative(coreSrc, f)}: ${s}`),
      );
    expect(used).toEqual([]);
  });

  it('core has no runtime dependency beyond Node itself', () => {
    const outside = files.flatMap((f) =>
      importsOf(f)
        .filter((s) => !s.startsWith('.') && !s.startsWith('node:'))
        .map((s) => `${relative(coreSrc, f)}: ${s}`),
    );
    expect(outside).toEqual([]);
  });

  it('no file in packages/core/src is over 560 lines', () => {
    const long = files.map((f) => [relative(coreSrc, f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 560);
    expect(long).toEqual([]);
  });
});

describe('packages built on core', () => {
  it('adapters and brokers import @wsup/core by its public name, never its files', () => {
    const deep = [...packageSources, ...exampleSources]
      .filter((f) => !f.startsWith(coreSrc))
      .flatMap((f) =>
        importsOf(f)
          .filter((s) => s.startsWith('@wsup/core/') || s.includes('core/src'))
          .map((s) => `${relative(root, f)}: ${s}`),
      );
    expect(deep).toEqual([]);
  });
});

describe('import cycles', () => {
  it('no source file in packages/ or examples/ reaches itself through its imports', () => {
    const files = [...packageSources, ...exampleSources];
    const graph = new Map<string, string[]>();
    for (const f of files) {
      graph.set(
        f,
        importsOf(f)
          .filter((s) => s.startsWith('.'))
          .map((s) => resolveRelative(f, s))
          .filter((t) => graph.has(t) || files.includes(t)),
      );
    }
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'visiting');
      stack.push(f);
      for (const t of graph.get(f) ?? []) {
        if (state.get(t) === 'visiting') cycles.push([...stack.slice(stack.indexOf(t)), t].map((p) => relative(root, p)).join(' → '));
        else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
