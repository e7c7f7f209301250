/**
 * Memory per compressing connection: what permessage-deflate with context takeover costs a
 * server for each connection that has sent and received a compressed message (both zlib
 * contexts made), wsup against ws, with compression off as the reference.
 *
 *   pnpm --dir bench deflate-memory [-- connections]
 *
 * ws runs with its defaults (context takeover both ways), wsup with its defaults and with each
 * no-context-takeover option. The server runs in a child process (`--expose-gc`) so that only its memory is counted; the
 * parent opens the connections with ws's client, which offers permessage-deflate as browsers do.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { handleUpgrades, upgrade } from '@wsup/core';

type Kind = 'wsup' | 'ws';
/** A server configuration: ws or wsup, and with which `compress` setting (false: off). */
interface Config {
  kind: Kind;
  label: string;
  compress: false | true | { serverNoContextTakeover?: boolean; clientNoContextTakeover?: boolean };
}

const CONFIGS: Config[] = [
  { kind: 'ws', label: 'off', compress: false },
  { kind: 'wsup', label: 'off', compress: false },
  { kind: 'ws', label: 'on (defaults)', compress: true },
  { kind: 'wsup', label: 'on (defaults)', compress: true },
  { kind: 'wsup', label: 'serverNoContextTakeover', compress: { serverNoContextTakeover: true } },
  { kind: 'wsup', label: 'both no context takeover', compress: { serverNoContextTakeover: true, clientNoContextTakeover: true } },
];
interface Mem {
  rss: number;
  heap: number;
  external: number;
}

const MESSAGE = JSON.stringify(
  Array.from({ length: 40 }, (_, i) => ({
    id: i,
    user: `user-${i % 7}`,
    text: 'the quick brown fox jumps over the lazy dog',
    at: 1_700_000_000 + i,
  })),
).slice(0, 4096);

function memory(): Mem {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external + m.arrayBuffers };
}

/** The child: an echo server of one kind, answering `mem` requests from the parent. */
async function serve(kind: Kind, compress: Config['compress']): Promise<void> {
  const server = createServer();
  if (kind === 'wsup') {
    server.on('request', (req, res) => {
      const ws = upgrade(req, res, { compress });
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
  process.on('message', () => process.send!(memory()));
  process.send!({ port: (server.address() as { port: number }).port });
}

function ask(child: ChildProcess): Promise<Mem> {
  const reply = once(child, 'message') as Promise<[Mem]>;
  child.send('mem');
  return reply.then(([m]) => m);
}

async function measure({ kind, compress }: Config, n: number): Promise<Mem> {
  const child = fork(fileURLToPath(import.meta.url), ['serve', kind, JSON.stringify(compress)], {
    execArgv: ['--expose-gc', ...process.execArgv],
  });
  const [{ port }] = (await once(child, 'message')) as [{ port: number }];
  const before = await ask(child);
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: compress === false ? false : { threshold: 1024 } });
      sockets.push(ws);
      await once(ws, 'open');
      if (compress !== false && !ws.extensions.includes('permessage-deflate'))
        throw new Error(`${kind} did not agree to permessage-deflate`);
      ws.send(MESSAGE);
      const [data] = await once(ws, 'message');
      if (String(data) !== MESSAGE) throw new Error('echo differs');
    });
    await Promise.all(batch);
  }
  await new Promise((r) => setTimeout(r, 300));
  const after = await ask(child);
  for (const ws of sockets) ws.terminate();
  child.kill();
  return { rss: (after.rss - before.rss) / n, heap: (after.heap - before.heap) / n, external: (after.external - before.external) / n };
}

async function main(): Promise<void> {
  const n = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1000);
  const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`.padStart(10);
  console.log(`memory per connection after one ${MESSAGE.length}-byte text message each way, ${n} connections, Node ${process.version}`);
  console.log(
    `${'server'.padEnd(6)} ${'compress'.padEnd(26)} ${'RSS/conn'.padStart(10)} ${'heap/conn'.padStart(10)} ${'external'.padStart(10)}`,
  );
  for (const config of CONFIGS) {
    const m = await measure(config, n);
    console.log(`${config.kind.padEnd(6)} ${config.label.padEnd(26)} ${kib(m.rss)} ${kib(m.heap)} ${kib(m.external)}`);
  }
}

if (process.argv[2] === 'serve') void serve(process.argv[3] as Kind, JSON.parse(process.argv[4]!) as Config['compress']);
else await main();
