/**
 * `npx -y pnpm@10 --dir examples/chat cluster`: the chat as two processes sharing rooms through a
 * private redis-server, on http://127.0.0.1:3000/ and http://127.0.0.1:3001/ (`PORT` and
 * `PORT+1`; `PORT=0` picks two free ports). Open one page on each: they are in the same rooms.
 * Ctrl-C stops both chat processes (their pages see 1001), then redis-server.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RedisProcess } from './redis-process.js';

const SERVER = fileURLToPath(new URL('server.ts', import.meta.url));
const base = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(base) || base < 0 || base > 65534) {
  console.error(`PORT must be a port number (the second process takes PORT+1), not ${process.env.PORT}`);
  process.exit(1);
}

interface ChatProcess {
  name: string;
  child: ChildProcess;
  /** The page's URL, once the process listens; rejects if it exits first. */
  url: Promise<string>;
  exited: Promise<[code: number | null, signal: NodeJS.Signals | null]>;
}

function startChat(name: string, port: number, redisUrl: string): ChatProcess {
  const child = fork(SERVER, [], {
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl },
    execArgv: ['--conditions=@wsup/source', '--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // Ctrl-C reaches this command only, which forwards one SIGTERM: a second signal would make
    // the chat exit without closing its connections.
    detached: true,
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const url = new Promise<string>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        // The single process's hint; the cluster prints its own once both are up.
        if (line.startsWith('open it in two browser windows')) return;
        console.log(`[${name}] ${line}`);
        const ready = /^wsup chat on (\S+)/.exec(line);
        if (ready) resolve(ready[1]!);
      });
    }
    void exited.then(() => reject(new Error(`chat ${name} exited before listening`)));
  });
  url.catch(() => undefined); // awaited below; an exit later is handled there
  return { name, child, url, exited };
}

let redis: RedisProcess;
try {
  redis = await RedisProcess.start();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
console.log(`redis-server on ${redis.url} (private: a temporary directory, nothing saved)`);

const chats = [startChat('A', base, redis.url), startChat('B', base === 0 ? 0 : base + 1, redis.url)];
let stopping = false;

async function stop(code: number): Promise<never> {
  stopping = true;
  for (const chat of chats) chat.child.kill('SIGTERM');
  const killer = setTimeout(() => {
    for (const c of chats) c.child.kill('SIGKILL');
  }, 10_000);
  await Promise.all(chats.map((c) => c.exited));
  clearTimeout(killer);
  await redis.stop();
  process.exit(code);
}

process.on('SIGINT', () => void (stopping ? process.exit(1) : stop(0)));
process.on('SIGTERM', () => void (stopping ? process.exit(1) : stop(0)));

let urls: string[];
try {
  urls = await Promise.all(chats.map((c) => c.url));
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  await stop(1);
}
console.log('');
console.log(`chat A: ${urls![0]}`);
console.log(`chat B: ${urls![1]}`);
console.log('open one page on each: same rooms, same history, members of both. Ctrl-C stops all three processes.');

// A chat process that dies (try `kill -9` on one) leaves the other serving; its pages see the
// dead one's members leave within the member TTL.
for (const chat of chats) {
  void chat.exited.then(([code, signal]) => {
    if (stopping) return;
    console.log(
      `chat ${chat.name} exited (${signal ?? code}); ${chats.some((c) => c.child.exitCode === null && c.child.signalCode === null) ? 'the other one goes on' : 'none left'}`,
    );
    if (chats.every((c) => c.child.exitCode !== null || c.child.signalCode !== null)) void stop(1);
  });
}
