// What users get from npm: every package is packed the way `pnpm publish` packs it (its prepack
// builds it afresh), each tarball's files and manifest are checked, then the tarballs are installed
// with npm in an app outside the workspace, next to Express, Fastify and Koa from the registry.
// There, an echo server on each framework runs as a child process from ES modules and from
// CommonJS, a TypeScript consumer compiles, and an adapter's errors are instances of the app's
// WebSocketError (one copy of @wsup/core). Needs the npm registry (or npm's cache).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const packages = readdirSync(join(root, 'packages')).filter((dir) => {
  try {
    return !JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')).private;
  } catch {
    return false;
  }
});
const adapters = ['express', 'fastify', 'koa'] as const;
// Written on every run: the published file list of each package, with sizes.
const fileListReport = join(root, 'dist', 'packages', 'published-files.txt');
// A file no build makes: the tarball must not have it, or the prepack did not start from a clean dist.
const STALE = 'stale-from-an-old-build.js';

interface TarEntry {
  path: string;
  size: number;
  data: Buffer;
}

interface Packed {
  name: string;
  tarball: string;
  entries: TarEntry[];
  manifest: Record<string, unknown> & { dependencies?: Record<string, string> };
}

/** Entries of a .tgz (ustar, with GNU long names and pax paths), paths without the `package/` prefix. */
function readTarball(file: string): TarEntry[] {
  const buf = gunzipSync(readFileSync(file));
  const entries: TarEntry[] = [];
  let nextPath: string | undefined;
  for (let offset = 0; offset + 512 <= buf.length; ) {
    const header = buf.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, end: number) => header.subarray(start, end).toString('utf8').replace(/\0.*$/s, '');
    const size = Number.parseInt(field(124, 136).trim() || '0', 8);
    const type = field(156, 157);
    const data = buf.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      nextPath = data.toString('utf8').replace(/\0.*$/s, '');
    } else if (type === 'x') {
      nextPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'))?.[1] ?? nextPath;
    } else if (type === '0' || type === '') {
      const prefix = field(345, 500);
      const path = nextPath ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
      nextPath = undefined;
      entries.push({ path: path.replace(/^package\//, ''), size, data: Buffer.from(data) });
    } else {
      nextPath = undefined;
    }
  }
  return entries.sort((a, b) => a.path.localeCompare(b.path));
}

/** The environment minus what npm/pnpm set for the script that started vitest (it would leak into npm). */
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_registry', 'npm_config_cache', 'npm_config_userconfig', 'npm_config_cafile', 'npm_config_strict_ssl']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) && !keep.has(key.toLowerCase())) continue;
    if (key === 'NODE_OPTIONS' || key.startsWith('VITEST') || key === 'NODE_ENV') continue;
    env[key] = value;
  }
  return env;
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number },
): Promise<{ stdout: string; stderr: string }> {
  const settings = { cwd: options.cwd, env: options.env ?? process.env, timeout: options.timeout ?? 120_000, maxBuffer: 64 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    execFile(command, args, settings, (err, stdout, stderr) => {
      if (!err) return resolve({ stdout, stderr });
      const what = `${basename(command)} ${args.join(' ')} (in ${options.cwd})`;
      reject(new Error(`${what} failed: ${err.message}\n${stdout}\n${stderr}`));
    });
  });
}

// The pnpm that runs this test (`pnpm test`), or pnpm 10 through npx (`npx vitest run`).
function pnpm(): [string, string[]] {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/i.test(basename(execPath))) return [process.execPath, [execPath]];
  return ['npx', ['-y', 'pnpm@10']];
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

// The echo servers, one per framework, each in an ES module and in a CommonJS file. A child exits
// 0 only if the echo came back through @wsup/core's own client and a plain GET to the WebSocket
// route made the adapter throw an instance of the app's WebSocketError.
const imports = {
  express: {
    esm: `import express from 'express';\nimport { attach } from '@wsup/express';`,
    cjs: `const express = require('express');\nconst { attach } = require('@wsup/express');`,
  },
  fastify: {
    esm: `import Fastify from 'fastify';\nimport wsup from '@wsup/fastify';`,
    cjs: `const Fastify = require('fastify');\nconst { wsup } = require('@wsup/fastify');`,
  },
  koa: {
    esm: `import Koa from 'koa';\nimport { attach, websockets } from '@wsup/koa';`,
    cjs: `const Koa = require('koa');\nconst { attach, websockets } = require('@wsup/koa');`,
  },
};
const coreImports = {
  esm: `import { once } from 'node:events';\nimport { connect, WebSocketError } from '@wsup/core';`,
  cjs: `const { once } = require('node:events');\nconst { connect, WebSocketError } = require('@wsup/core');`,
};
const servers = {
  express: `
  const app = express();
  app.get('/echo', (req, res) => {
    const ws = res.upgrade();
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  });
  app.use((err, req, res, next) => {
    thrown = err;
    if (!res.headersSent) res.status(500).end();
  });
  const server = app.listen(0, '127.0.0.1');
  attach(server);
  await once(server, 'listening');
  const port = server.address().port;`,
  fastify: `
  const app = Fastify();
  await app.register(wsup);
  app.setErrorHandler((err, request, reply) => {
    thrown = err;
    reply.code(err.status ?? 500).send(err.message);
  });
  app.get('/echo', (request, reply) => {
    const ws = reply.upgrade();
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = app.server.address().port;`,
  koa: `
  const app = new Koa();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      thrown = err;
      throw err;
    }
  });
  app.use(websockets());
  app.use((ctx) => {
    if (ctx.path !== '/echo') return;
    const ws = ctx.upgrade();
    ws.on('message', (msg) => ws.send(msg.data, msg.binary));
  });
  const server = app.listen(0, '127.0.0.1');
  attach(server);
  await once(server, 'listening');
  const port = server.address().port;`,
};

function echoScript(framework: (typeof adapters)[number], format: 'esm' | 'cjs'): string {
  const greeting = `hello from ${framework} (${format})`;
  return `${imports[framework][format]}
${coreImports[format]}

setTimeout(() => {
  console.error('timed out');
  process.exit(1);
}, 20_000).unref();

async function main() {
  let thrown;
${servers[framework]}

  const ws = await connect(\`ws://127.0.0.1:\${port}/echo\`);
  ws.send(${JSON.stringify(greeting)});
  const reply = await ws.receive(5);
  if (reply?.data !== ${JSON.stringify(greeting)}) throw new Error(\`echo: got \${JSON.stringify(reply?.data)}\`);
  await ws.close();

  const res = await fetch(\`http://127.0.0.1:\${port}/echo\`);
  if (res.status !== 426) throw new Error(\`a plain GET got \${res.status}, not 426\`);
  for (let i = 0; i < 100 && thrown === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!(thrown instanceof WebSocketError)) throw new Error(\`the adapter's error is not an instance of the app's WebSocketError: \${thrown}\`);
  console.log('echo ok, ' + thrown.constructor.name + ' ' + thrown.code);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
`;
}

// A TypeScript consumer: the adapters' augmentations must type these calls, without casts.
const consumerTs = `import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { connect, type Message, type WebSocket, WebSocketError } from '@wsup/core';
import { attach as attachExpress, injectWS } from '@wsup/express';
import wsup from '@wsup/fastify';
import { attach as attachKoa, websockets } from '@wsup/koa';

function echo(ws: WebSocket): void {
  ws.on('message', (msg: Message) => {
    ws.send(msg.data, msg.binary);
  });
}

const expressApp = express();
expressApp.get('/echo', (req, res) => {
  const upgrading: boolean = req.isUpgrade;
  if (upgrading) echo(res.upgrade({ compress: true }));
  else res.status(426).end();
});
attachExpress(expressApp.listen(0));
const injected: WebSocket = await injectWS(expressApp, '/echo');
injected.terminate();

const fastifyApp = Fastify();
await fastifyApp.register(wsup);
fastifyApp.get('/echo', (request, reply) => {
  const upgrading: boolean = request.isUpgrade;
  if (upgrading) echo(reply.upgrade({ heartbeat: 30 }));
});
const live: number = fastifyApp.websockets.clients.size;
const fromFastify: Promise<WebSocket> = fastifyApp.injectWS('/echo');

const koaApp = new Koa();
koaApp.use(websockets());
koaApp.use((ctx) => {
  if (ctx.isUpgrade) echo(ctx.upgrade({ maxPayload: 1024 }));
  else ctx.body = 'hello';
});
attachKoa(koaApp.listen(0));

try {
  const client = await connect('ws://127.0.0.1:1/echo', { timeout: 1 });
  await client.close();
} catch (err) {
  if (err instanceof WebSocketError) console.log(err.code, live, fromFastify);
}
`;

describe('the packages as published', () => {
  let temp = '';
  let app = '';
  const packed = new Map<string, Packed>();

  beforeAll(async () => {
    temp = mkdtempSync(join(tmpdir(), 'wsup-packaging-'));
    app = join(temp, 'app');
    const tarballDir = join(temp, 'tarballs');
    for (const dir of packages) {
      mkdirSync(join(root, 'packages', dir, 'dist'), { recursive: true });
      writeFileSync(join(root, 'packages', dir, 'dist', STALE), '');
    }
    try {
      const [command, args] = pnpm();
      await run(command, [...args, '-r', '--filter', './packages/*', 'pack', '--pack-destination', tarballDir], { cwd: root });
    } finally {
      for (const dir of packages) rmSync(join(root, 'packages', dir, 'dist', STALE), { force: true });
    }
    for (const dir of packages) {
      const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
      const tarball = join(tarballDir, `${manifest.name.replace(/^@/, '').replace('/', '-')}-${manifest.version}.tgz`);
      const entries = readTarball(tarball);
      const packedManifest = JSON.parse(entries.find((e) => e.path === 'package.json')!.data.toString('utf8'));
      packed.set(dir, { name: manifest.name, tarball, entries, manifest: packedManifest });
    }

    const report = [...packed.values()]
      .map((p) => {
        const total = p.entries.reduce((sum, e) => sum + e.size, 0);
        const tgz = readFileSync(p.tarball).length;
        const lines = p.entries.map((e) => `  ${e.path.padEnd(60)} ${String(e.size).padStart(8)}`);
        return `${p.name}@${p.manifest.version}: ${p.entries.length} files, ${kib(total)} unpacked, ${kib(tgz)} packed\n${lines.join('\n')}`;
      })
      .join('\n\n');
    mkdirSync(join(root, 'dist', 'packages'), { recursive: true });
    writeFileSync(fileListReport, `${report}\n`);
    console.log(`Published files of each package (also in ${fileListReport}):\n\n${report}`);

    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'wsup-consumer', version: '1.0.0', private: true }, null, 2)}\n`);
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--loglevel=error',
        ...[...packed.values()].map((p) => p.tarball),
        'express@5',
        'fastify@5',
        'koa@3',
        '@types/express@5',
        '@types/koa@3',
        '@types/node@20',
      ],
      { cwd: app, env: cleanEnv(), timeout: 150_000 },
    );
  }, 240_000);

  afterAll(() => {
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  it('packs every package that is not private', () => {
    expect([...packages].sort()).toEqual(['core', 'express', 'fastify', 'koa', 'nats', 'redis']);
  });

  it.each(packages)('@wsup/%s: a tarball with a fresh build, the sources, docs and license, and no tests', (dir) => {
    const { entries } = packed.get(dir)!;
    const paths = entries.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', 'src/index.ts']),
    );
    expect(paths.some((p) => /^dist\/.*\.d\.ts\.map$/.test(p))).toBe(true);
    expect(paths.filter((p) => !/^(dist|src)\//.test(p)).sort()).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'package.json']);
    expect(paths.filter((p) => /(^|\/)test\/|\.test\.|\.spec\.|tsbuildinfo/.test(p))).toEqual([]);
    expect(paths).not.toContain(`dist/${STALE}`);
    // Every declaration map points at a source that ships.
    for (const map of entries.filter((e) => e.path.endsWith('.d.ts.map'))) {
      const { sources } = JSON.parse(map.data.toString('utf8')) as { sources: string[] };
      for (const source of sources) expect(paths).toContain(join(map.path, '..', source));
    }
    expect(entries.find((e) => e.path === 'LICENSE')!.data.toString('utf8')).toContain('Copyright (c) 2026 the wsup authors');
  });

  it.each(packages)('@wsup/%s: a manifest ready for npm', (dir) => {
    const { manifest, name } = packed.get(dir)!;
    expect(JSON.stringify(manifest)).not.toContain('workspace:');
    if (dir !== 'core') expect(manifest.dependencies?.['@wsup/core']).toBe(`^${packed.get('core')!.manifest.version}`);
    expect(manifest).toMatchObject({
      name,
      license: 'MIT',
      type: 'module',
      engines: { node: '^20.19.0 || >=22.12.0' },
      publishConfig: { access: 'public' },
      repository: { type: 'git', url: 'git+https://github.com/wsup/wsup.git', directory: `packages/${dir}` },
      homepage: 'https://github.com/wsup/wsup#readme',
      bugs: { url: 'https://github.com/wsup/wsup/issues' },
      exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' }, './package.json': './package.json' },
    });
    expect(manifest.keywords).toEqual(expect.arrayContaining(['websocket']));
    // The adapters patch their framework's prototypes when imported: no bundler may drop them.
    expect(manifest.sideEffects).toBe((adapters as readonly string[]).includes(dir) ? undefined : false);
  });

  it('installs with one copy of @wsup/core', async () => {
    const { stdout } = await run('npm', ['ls', '@wsup/core', '--all', '--parseable'], { cwd: app, env: cleanEnv() });
    expect(stdout.trim().split('\n')).toEqual([join(app, 'node_modules', '@wsup', 'core')]);
  }, 30_000);

  const runs = adapters.flatMap((framework) => (['esm', 'cjs'] as const).map((format) => [framework, format] as const));
  it.each(runs)(
    'an echo server on %s, loaded as %s, answers @wsup/core’s client',
    async (framework, format) => {
      const file = join(app, `${framework}-echo.${format === 'esm' ? 'mjs' : 'cjs'}`);
      writeFileSync(file, echoScript(framework, format));
      const { stdout } = await run(process.execPath, [file], { cwd: app, env: cleanEnv(), timeout: 30_000 });
      expect(stdout).toMatch(/^echo ok, WebSocketError ERR_/m);
    },
    40_000,
  );

  it('loads the brokers from ES modules and from CommonJS', async () => {
    const esm = join(app, 'brokers.mjs');
    writeFileSync(
      esm,
      `import { RedisBroker } from '@wsup/redis';\nimport { NatsBroker } from '@wsup/nats';\nconsole.log(typeof RedisBroker, typeof NatsBroker);\n`,
    );
    const cjs = join(app, 'brokers.cjs');
    writeFileSync(
      cjs,
      `const { RedisBroker } = require('@wsup/redis');\nconst { NatsBroker } = require('@wsup/nats');\nconsole.log(typeof RedisBroker, typeof NatsBroker);\n`,
    );
    for (const file of [esm, cjs]) {
      const { stdout } = await run(process.execPath, [file], { cwd: app, env: cleanEnv(), timeout: 30_000 });
      expect(stdout.trim()).toBe('function function');
    }
  }, 60_000);

  it('compiles a TypeScript consumer of the adapters without casts, against declarations without errors', async () => {
    writeFileSync(join(app, 'consumer.mts'), consumerTs);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          types: ['node'],
          // Checks the published declarations too; errors in other packages' types are not ours.
          skipLibCheck: false,
        },
        files: ['consumer.mts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const { ok, output } = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], {
      cwd: app,
      env: cleanEnv(),
      timeout: 60_000,
    }).then(
      ({ stdout }) => ({ ok: true, output: stdout }),
      (err: Error) => ({ ok: false, output: err.message }),
    );
    const errors = output.split('\n').filter((line) => /^\S.*\(\d+,\d+\): error TS/.test(line));
    if (!ok) expect(errors, output).not.toEqual([]);
    expect(errors.filter((line) => !line.startsWith('node_modules/'))).toEqual([]);
    expect(errors.filter((line) => line.startsWith('node_modules/@wsup/'))).toEqual([]);
  }, 90_000);
});
