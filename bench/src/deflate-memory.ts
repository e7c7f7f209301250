/**
 * Memory per compressing connection: what permessage-deflate costs a server for each connection
 * that has received and sent compressed messages (so every zlib context it keeps is made and
 * used), wsup against ws and uWebSockets.js, with compression off as the reference.
 *
 *   pnpm --dir bench deflate-memory [-- connections] [--messages=N]
 *
 * 10,000 connections by default, each sending N (default 8) of the compressed scenario's 4 KiB
 * JSON-like texts (payloads.ts, in rotation: 32 KiB, enough to fill a 15-bit window) and getting
 * each back. The server runs in a child process (`--expose-gc`) so that only its memory is
 * counted; the parent opens the connections with ws's client, which offers permessage-deflate as
 * browsers do (`permessage-deflate; client_max_window_bits`; one row offers it bare, as Firefox
 * does). Reported: the server's RSS with all connections open (the whole process), its growth
 * from before the first connection, and that growth per connection.
 *
 * Each of the two processes holds one descriptor per connection: the script raises its soft
 * descriptor limit as far as the hard one allows (re-running itself under `ulimit -n`), and
 * measures fewer connections, saying so, when that is still too low.
 */
import { execFileSync, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { type DeflateOptions, handleUpgrades, upgrade } from '@wsup/core';
import { makePayload } from './payloads.js';

type Kind = 'wsup' | 'ws' | 'uws';
/** A server configuration: which server, with which compression setting (false: off). */
interface Config {
  kind: Kind;
  label: string;
  /** wsup: its `compress` option; ws: `perMessageDeflate` on (its defaults) or off; uWS: the names of its `compression` flags. */
  compress: false | true | DeflateOptions | string[];
  /** The client leaves client_max_window_bits out of its offer (as Firefox does). */
  bareOffer?: boolean;
}

/** wsup's `compress: true` before issue 20, set explicitly. */
const WSUP_OLD: DeflateOptions = { level: 1, serverNoContextTakeover: false, clientNoContextTakeover: false, clientMaxWindowBits: 15 };

const CONFIGS: Config[] = [
  { kind: 'ws', label: 'off', compress: false },
  { kind: 'uws', label: 'off', compress: false },
  { kind: 'wsup', label: 'off', compress: false },
  { kind: 'ws', label: 'perMessageDeflate defaults', compress: true },
  { kind: 'uws', label: 'SHARED_(DE)COMPRESSOR', compress: ['SHARED_COMPRESSOR', 'SHARED_DECOMPRESSOR'] },
  { kind: 'uws', label: 'DEDICATED_(DE)COMPRESSOR', compress: ['DEDICATED_COMPRESSOR', 'DEDICATED_DECOMPRESSOR'] },
  { kind: 'wsup', label: 'old default (set explicitly)', compress: WSUP_OLD },
  { kind: 'wsup', label: 'compress: true', compress: true },
  { kind: 'wsup', label: 'compress: true, bare offer', compress: true, bareOffer: true },
];

interface Mem {
  rss: number;
  heap: number;
  external: number;
}

const PAYLOADS = Array.from({ length: 16 }, (_, v) => makePayload(4096, 'json', v).toString());
/** Descriptors each process needs besides its sockets. */
const SPARE_FDS = 200;

function memory(): Mem {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external + m.arrayBuffers };
}

async function listenUws(flags: false | string[]): Promise<number> {
  const { default: uWS } = await import('uwebsockets');
  const compression = flags === false ? uWS.DISABLED : flags.reduce((a, f) => a | (uWS as unknown as Record<string, number>)[f]!, 0);
  return new Promise((resolve, reject) => {
    uWS
      .App()
      .ws('/*', {
        compression,
        idleTimeout: 0,
        maxPayloadLength: 16 * 1024 * 1024,
        message: (ws, message, isBinary) => void ws.send(message, isBinary, true),
      })
      .listen('127.0.0.1', 0, (token) => {
        if (token) resolve(uWS.us_socket_local_port(token));
        else reject(new Error('uWS could not listen'));
      });
  });
}

/** The child: an echo server of one kind, answering `mem` requests from the parent. */
async function serve(kind: Kind, compress: Config['compress']): Promise<void> {
  let port: number;
  if (kind === 'uws') {
    port = await listenUws(compress as false | string[]);
  } else {
    const server = createServer();
    if (kind === 'wsup') {
      server.on('request', (req, res) => {
        const ws = upgrade(req, res, { compress: compress as boolean | DeflateOptions });
        ws.on('message', (m) => ws.send(m.data, m.binary));
      });
      handleUpgrades(server);
    } else {
      // ws's own defaults apart from the threshold, which is set to wsup's (1 KiB) so both compress the same messages.
      const wss = new WebSocketServer({ server, perMessageDeflate: compress === false ? false : { threshold: 1024 } });
      wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
    }
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  }
  process.on('message', () => process.send!(memory()));
  process.send!({ port });
}

/** The permessage-deflate response ws's client accepted, from its internals (`extensions` has only the names). */
function agreed(ws: WebSocket): string {
  const pmd = (ws as unknown as { _extensions: Record<string, { params?: Record<string, unknown> }> })._extensions['permessage-deflate'];
  if (!pmd?.params) return ws.extensions;
  const params = Object.entries(pmd.params).map(([k, v]) => (v === true ? k : `${k}=${String(v)}`));
  return ['permessage-deflate', ...params].join('; ');
}

function ask(child: ChildProcess): Promise<Mem> {
  const reply = once(child, 'message') as Promise<[Mem]>;
  child.send('mem');
  return reply.then(([m]) => m);
}

async function measure(config: Config, n: number, messages: number): Promise<{ total: Mem; rss: number; extensions: string }> {
  const { kind, compress } = config;
  const child = fork(fileURLToPath(import.meta.url), ['serve', kind, JSON.stringify(compress)], {
    execArgv: ['--expose-gc', ...process.execArgv],
  });
  const [{ port }] = (await once(child, 'message')) as [{ port: number }];
  // The baseline once the server has settled (start-up garbage collected, freed pages returned).
  await new Promise((r) => setTimeout(r, 1000));
  await ask(child);
  await new Promise((r) => setTimeout(r, 500));
  const before = await ask(child);
  const sockets: WebSocket[] = [];
  let extensions = '';
  try {
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({ length: Math.min(50, n - i) }, async (_, j) => {
        const offer = config.bareOffer ? { threshold: 1024, clientMaxWindowBits: false as unknown as number } : { threshold: 1024 };
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: compress === false ? false : offer });
        sockets.push(ws);
        await once(ws, 'open');
        extensions ||= agreed(ws);
        if (compress !== false && !ws.extensions.includes('permessage-deflate'))
          throw new Error(`${kind} did not agree to permessage-deflate`);
        for (let m = 0; m < messages; m++) {
          const text = PAYLOADS[(i + j + m) % PAYLOADS.length]!;
          ws.send(text);
          const [data] = await once(ws, 'message');
          if (String(data) !== text) throw new Error('echo differs');
        }
      });
      await Promise.all(batch);
    }
    await new Promise((r) => setTimeout(r, 500));
    const after = await ask(child);
    return {
      total: { rss: after.rss - before.rss, heap: after.heap - before.heap, external: after.external - before.external },
      rss: after.rss,
      extensions: compress === false ? '' : extensions,
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    child.kill();
    await once(child, 'exit');
  }
}

function descriptorLimit(): number {
  const out = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  return out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const wanted = Number(args.find((a) => /^\d+$/.test(a)) ?? 10_000);
  const messages = Number(args.find((a) => a.startsWith('--messages='))?.slice(11) ?? 8);
  let limit = descriptorLimit();
  if (limit < wanted + SPARE_FDS && process.env.DEFLATE_MEMORY_RAISED === undefined) {
    // Raise the soft limit as far as the hard one allows and run again under it.
    const script = `ulimit -n ${wanted + SPARE_FDS} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
    const r = spawnSync('sh', ['-c', script, 'sh', process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...args], {
      stdio: 'inherit',
      env: { ...process.env, DEFLATE_MEMORY_RAISED: '1' },
    });
    process.exit(r.status ?? 1);
  }
  limit = descriptorLimit();
  const n = Math.min(wanted, limit - SPARE_FDS);
  if (n < wanted) {
    console.log(
      `note: the descriptor limit is ${limit} (hard limit reached), too low for ${wanted} connections: measuring ${n}. Raise it (ulimit -Hn, as root) for the full run.`,
    );
  }
  const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`.padStart(10);
  const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`.padStart(8);
  console.log(
    `server memory after ${messages} ${PAYLOADS[0]!.length}-byte JSON-like text messages each way per connection, ${n} connections, Node ${process.version}`,
  );
  console.log(
    `${'server'.padEnd(5)} ${'compress'.padEnd(30)} ${'RSS'.padStart(8)} ${'growth'.padStart(8)} ${'RSS/conn'.padStart(10)} ${'heap/conn'.padStart(10)} ${'external'.padStart(10)}  agreed`,
  );
  for (const config of CONFIGS) {
    const { total: m, rss, extensions } = await measure(config, n, messages);
    console.log(
      `${config.kind.padEnd(5)} ${config.label.padEnd(30)} ${mb(rss)} ${mb(m.rss)} ${kib(m.rss / n)} ${kib(m.heap / n)} ${kib(m.external / n)}  ${extensions}`,
    );
  }
}

if (process.argv[2] === 'serve') void serve(process.argv[3] as Kind, JSON.parse(process.argv[4]!) as Config['compress']);
else await main();
