/**
 * The chat as several processes behind one Redis: chat server processes (child processes, each
 * with its own hub, RedisBroker and store connection) on a private redis-server, with protocol
 * clients on each. Then the `cluster` command, which starts all of that itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../packages/redis/test/helpers/redis-server.js';
import { createChatServer, type ChatOptions, type ChatServer } from '../src/app.js';
import type { ChatMessage } from '../src/protocol.js';
import { ChatProcess } from './chat-processes.js';
import { collect, joinChat, next, nextOf, say, sendJson } from './clients.js';

/** Seconds: short, so that a crashed process's members go quickly. */
const MEMBER_TTL = 2;
const HISTORY_SIZE = 5;

let redis: RedisServer;
let a: ChatProcess;
let b: ChatProcess;
const extra: ChatProcess[] = [];

function options(): ChatOptions {
  return { redis: { url: redis.url, memberTtl: MEMBER_TTL }, historySize: HISTORY_SIZE, rateLimit: { messages: 1000 } };
}

beforeAll(async () => {
  redis = await RedisServer.start();
  [a, b] = await Promise.all([ChatProcess.start(options()), ChatProcess.start(options())]);
}, 30_000);

afterEach(() => {
  for (const p of [a, b, ...extra]) expect(p.logged).toEqual([]);
});

afterAll(async () => {
  await Promise.all([a, b, ...extra].filter(Boolean).map((p) => p.stop()));
  await redis?.stop();
});

const texts = (messages: ChatMessage[]) => messages.map((m) => m.text);
const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('two chat processes on one Redis', () => {
  it('gives a joiner on B the last messages written through A, oldest first, and tells A', async () => {
    const alice = await a.join('history', 'alice');
    for (const text of range('m', 7)) await say(alice, text);

    const bob = await b.join('history', 'bob');
    expect(bob.joined.members).toEqual(['alice', 'bob']);
    expect(texts(bob.joined.history)).toEqual(['m3', 'm4', 'm5', 'm6', 'm7']);
    expect(bob.joined.history.every((m) => m.name === 'alice' && m.room === 'history')).toBe(true);
    expect(await nextOf(alice.ws, 'presence')).toMatchObject({ event: 'join', room: 'history', name: 'bob', members: ['alice', 'bob'] });
  });

  it("delivers messages across processes to every member, in each sender's order, exactly once", async () => {
    const alice = await a.join('relay', 'alice');
    const bob = await b.join('relay', 'bob');
    const carol = await a.join('relay', 'carol');
    const dave = await b.join('relay', 'dave');
    const n = 30;
    for (let i = 1; i <= n; i++) {
      sendJson(alice.ws, { type: 'say', text: `a${i}` });
      sendJson(bob.ws, { type: 'say', text: `b${i}` });
    }
    for (const member of [alice, bob, carol, dave]) {
      const got = await collect(member.ws, 'message', 2 * n);
      expect(texts(got.filter((m) => m.name === 'alice'))).toEqual(range('a', n));
      expect(texts(got.filter((m) => m.name === 'bob'))).toEqual(range('b', n));
      expect(new Set(got.map((m) => m.id)).size).toBe(2 * n);
    }
    // Nothing comes after them but what is said next: no late copies from either process.
    // Each process delivers its publisher's messages in order, so a late copy would come first.
    sendJson(alice.ws, { type: 'say', text: 'end a' });
    sendJson(bob.ws, { type: 'say', text: 'end b' });
    for (const member of [alice, bob, carol, dave]) {
      expect(texts(await collect(member.ws, 'message', 2)).sort()).toEqual(['end a', 'end b']);
    }
  });

  it('keeps members and presence right across processes as people join, leave and change rooms', async () => {
    const alice = await a.join('presence', 'alice');
    const bob = await b.join('presence', 'bob');
    expect(bob.joined.members).toEqual(['alice', 'bob']);
    expect(await nextOf(alice.ws, 'presence')).toMatchObject({ event: 'join', name: 'bob', members: ['alice', 'bob'] });

    const carol = await a.join('presence', 'carol');
    expect(carol.joined.members).toEqual(['alice', 'bob', 'carol']);
    for (const other of [alice, bob]) {
      expect(await nextOf(other.ws, 'presence')).toMatchObject({ event: 'join', name: 'carol', members: ['alice', 'bob', 'carol'] });
    }

    await bob.ws.close();
    for (const other of [alice, carol]) {
      expect(await nextOf(other.ws, 'presence')).toMatchObject({ event: 'leave', name: 'bob', members: ['alice', 'carol'] });
    }

    sendJson(carol.ws, { type: 'join', room: 'elsewhere', name: 'carol' });
    expect(await nextOf(carol.ws, 'joined')).toMatchObject({ room: 'elsewhere', members: ['carol'] });
    expect(await nextOf(alice.ws, 'presence')).toMatchObject({ event: 'leave', name: 'carol', members: ['alice'] });

    const dave = await b.join('presence', 'dave');
    expect(dave.joined.members).toEqual(['alice', 'dave']);
  });

  it('removes the members of a crashed process once its TTL has passed, and announces each once', async () => {
    const c = await ChatProcess.start(options());
    extra.push(c);
    const alice = await a.join('crash', 'alice');
    const bob = await b.join('crash', 'bob');
    await nextOf(alice.ws, 'presence'); // bob
    const carl = await c.join('crash', 'carl');
    expect(carl.joined.members).toEqual(['alice', 'bob', 'carl']);
    for (const other of [alice, bob]) expect(await nextOf(other.ws, 'presence')).toMatchObject({ event: 'join', name: 'carl' });

    await c.crash();
    // Within the TTL plus one refresh (a third of it); next() waits up to 5 s.
    for (const other of [alice, bob]) {
      expect(await nextOf(other.ws, 'presence')).toMatchObject({ event: 'leave', name: 'carl', members: ['alice', 'bob'] });
    }
    // Announced by one process only: what bob hears next is alice, not a second notice.
    await say(alice, 'carl is gone');
    expect(await next(bob.ws)).toMatchObject({ type: 'message', text: 'carl is gone' });
    const dave = await b.join('crash', 'dave');
    expect(dave.joined.members).toEqual(['alice', 'bob', 'dave']);
  });

  it('gives joiners on both processes every message published while they join, with none shown twice', async () => {
    const alice = await a.join('busy', 'alice');
    const n = 300;
    for (let i = 1; i <= n; i++) sendJson(alice.ws, { type: 'say', text: `m${i}` });
    // Joins while the messages go out, on the publisher's process and on the other one.
    const joiners = [];
    for (let i = 0; i < 8; i++) joiners.push(await (i % 2 ? a : b).join('busy', `joiner${i}`));

    for (const joiner of joiners) {
      // What the page does: history first, then live messages, dropping ids it already shows.
      const shown = new Map(joiner.joined.history.map((m) => [m.id, m.text]));
      const repeated: string[] = [];
      while (![...shown.values()].includes(`m${n}`)) {
        const msg = await next(joiner.ws);
        if (msg.type !== 'message') continue;
        if (shown.has(msg.id)) repeated.push(msg.id);
        else shown.set(msg.id, msg.text);
      }
      const seen = [...shown.values()];
      const first = Number(seen[0]!.slice(1));
      // No gap where the history ends and live delivery begins, and everything in order.
      expect(seen).toEqual(range('m', n).slice(first - 1));
      // A message can arrive again only if it was in the history: its live copy was in flight.
      const history = new Set(joiner.joined.history.map((m) => m.id));
      expect(repeated.filter((id) => !history.has(id))).toEqual([]);
    }
  });
});

describe('a chat process whose Redis is unreachable', () => {
  it('does not start, and says which Redis it could not reach', async () => {
    // A port nothing listens on: taken, then given back.
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as AddressInfo;
    probe.close();
    await once(probe, 'close');
    const url = `redis://127.0.0.1:${port}`;
    await expect(createChatServer({ redis: { url, connectTimeout: 0.5 }, log: () => {} })).rejects.toThrow(
      `cannot reach Redis at ${url} within 0.5 s`,
    );
  });
});

describe('the cluster command', () => {
  const CHAT_DIR = fileURLToPath(new URL('..', import.meta.url));
  let cluster: ChildProcess | undefined;

  afterEach(async () => {
    // After a failure: SIGTERM stops its chat processes and its redis-server too (SIGKILL would
    // leave them behind), and SIGKILL only if that hangs.
    if (!cluster || cluster.exitCode !== null || cluster.signalCode !== null) return;
    const exited = once(cluster, 'exit');
    cluster.kill('SIGTERM');
    const timer = setTimeout(() => cluster?.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  });

  function run(env: NodeJS.ProcessEnv): {
    child: ChildProcess;
    output: () => string;
    printed: (pattern: RegExp) => Promise<RegExpExecArray>;
  } {
    const child = spawn(process.execPath, ['--conditions=@wsup/source', '--import', 'tsx', 'src/cluster.ts'], {
      cwd: CHAT_DIR,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cluster = child;
    let text = '';
    const waiting = new Set<() => void>();
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      for (const check of waiting) check();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const printed = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = (): void => {
          const found = pattern.exec(text);
          if (!found) return;
          waiting.delete(check);
          resolve(found);
        };
        waiting.add(check);
        child.once('exit', () => reject(new Error(`the cluster command exited without printing ${pattern}:\n${text}`)));
        check();
      });
    return { child, output: () => text, printed };
  }

  const server = (url: string) => ({ port: Number(new URL(url).port) }) as ChatServer;

  it('starts a private redis-server and two chat processes sharing it, prints both URLs, and stops all three on Ctrl-C', async () => {
    const { child, printed } = run({ PORT: '0' });
    const redisPort = Number((await printed(/redis-server on redis:\/\/127\.0\.0\.1:(\d+)/))[1]);
    const urlA = (await printed(/^chat A: (http:\/\/\S+)$/m))[1]!;
    const urlB = (await printed(/^chat B: (http:\/\/\S+)$/m))[1]!;
    expect(urlA).not.toBe(urlB);

    const alice = await joinChat(server(urlA), 'lobby', 'alice');
    const bob = await joinChat(server(urlB), 'lobby', 'bob');
    expect(bob.joined.members).toEqual(['alice', 'bob']);
    expect(await nextOf(alice.ws, 'presence')).toMatchObject({ event: 'join', name: 'bob' });
    await say(alice, 'from A to B');
    expect(await nextOf(bob.ws, 'message')).toMatchObject({ name: 'alice', text: 'from A to B' });

    child.kill('SIGINT');
    for (const client of [alice, bob]) expect(await client.ws.closed).toMatchObject({ code: 1001 });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    // redis-server went with it: nothing listens on its port any more.
    const probe = connectTcp(redisPort, '127.0.0.1');
    const [err] = (await once(probe, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
  }, 30_000);

  it('says how to install redis-server when it is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'wsup-chat-no-redis-'));
    try {
      const { child, output } = run({ PATH: empty });
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(1);
      expect(output()).toContain('redis-server is not installed');
      expect(output()).toContain('apt-get install -y redis-server');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
