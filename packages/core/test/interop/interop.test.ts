/**
 * The interop matrix: one row per pairing of implementations and compression setting, one cell
 * per scenario.
 *
 * - wsup's server against ws, undici's WebSocket and headless Chromium, each with
 *   permessage-deflate off and on;
 * - wsup's client against a ws server, with compression off, on with several ws parameter sets,
 *   on with parameters wsup asks for, and offered by wsup but declined by ws.
 *
 * A cell a client cannot express (the browser API has no fragments and no pong events; Chromium
 * cannot ping) is skipped and counted as n/a. The run ends with one summary line.
 */
import type { Browser, Page } from 'playwright-core';
import type { PerMessageDeflateOptions } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeflateOptions } from '@wsup/core';
import { launchChromium } from '../../../../test-support/chromium.js';
import { hasSystemTool } from '../../../../test-support/system-tools.js';
import { chromiumClient, undiciClient, wsClient, wsupClient, type Can, type Connection, type InteropClient } from './clients.js';
import { startInteropServer, type InteropServer } from './interop-server.js';
import { startWsServer } from './ws-server.js';

interface Row {
  name: string;
  client: InteropClient;
  /** The server: wsup's shared interop server, or a ws server with this permessage-deflate setting. */
  server: { wsup: boolean } | { ws: PerMessageDeflateOptions | false };
  /** wsup's server compresses (z=1) on this row. */
  compress?: boolean;
  /** What the client must report as agreed: every pattern matches, or '' for nothing. */
  extensions: RegExp[] | '';
}

let page: Page | undefined;
const wsupServer = { wsup: true };

const allRows: Row[] = [
  { name: 'ws → wsup', client: wsClient(false), server: wsupServer, extensions: '' },
  { name: 'ws → wsup, deflate', client: wsClient(true), server: wsupServer, compress: true, extensions: [/^permessage-deflate/] },
  { name: 'undici → wsup', client: undiciClient, server: wsupServer, extensions: '' },
  { name: 'undici → wsup, deflate', client: undiciClient, server: wsupServer, compress: true, extensions: [/^permessage-deflate/] },
  { name: 'chromium → wsup', client: chromiumClient(() => page!), server: wsupServer, extensions: '' },
  {
    name: 'chromium → wsup, deflate',
    client: chromiumClient(() => page!),
    server: wsupServer,
    compress: true,
    extensions: [/^permessage-deflate/],
  },
  { name: 'wsup → ws', client: wsupClient(false), server: { ws: false }, extensions: '' },
  { name: 'wsup → ws, deflate', client: wsupClient(true), server: { ws: {} }, extensions: [/^permessage-deflate/] },
  {
    name: 'wsup → ws, deflate without context takeover',
    client: wsupClient(true),
    server: { ws: { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 } },
    extensions: [/server_no_context_takeover/, /client_no_context_takeover/],
  },
  {
    name: 'wsup → ws, deflate with 10/9-bit windows',
    client: wsupClient(true),
    server: { ws: { serverMaxWindowBits: 10, clientMaxWindowBits: 9, threshold: 0 } },
    extensions: [/server_max_window_bits=10/, /client_max_window_bits=9/],
  },
  {
    name: 'wsup → ws, deflate as wsup asks',
    client: wsupClient({
      serverNoContextTakeover: true,
      serverMaxWindowBits: 11,
      clientMaxWindowBits: 12,
      threshold: 0,
    } satisfies DeflateOptions),
    server: { ws: { threshold: 0 } },
    extensions: [/server_no_context_takeover/, /server_max_window_bits=11/, /client_max_window_bits=12/],
  },
  { name: 'wsup → ws, deflate offered and declined', client: wsupClient(true), server: { ws: false }, extensions: '' },
];

// Without Chromium on this machine (outside CI) its rows are left out; vitest.config.ts says so.
const rows = hasSystemTool('chromium') ? allRows : allRows.filter((r) => r.client.name !== 'chromium');

interface Context {
  open(route: string): Promise<{ conn: Connection; id: string }>;
  server: InteropServer;
  row: Row;
}

interface Scenario {
  name: string;
  needs?: (keyof Can)[];
  run(ctx: Context): Promise<void>;
}

const SIZES = [0, 125, 126, 65535, 65536, 1 << 20];
const text = (n: number) => 'é'.repeat(n >> 1) + (n & 1 ? 'a' : '');
const binary = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff));

async function closeCleanly(conn: Connection): Promise<void> {
  conn.close(1000);
  expect((await conn.closed).code).toBe(1000);
}

const scenarios: Scenario[] = [
  {
    name: 'the agreed extension: permessage-deflate where compression is on, nothing where it is off',
    async run({ open, server, row }) {
      const { conn, id } = await open('echo');
      if (row.extensions === '') {
        expect(conn.extensions).toBe('');
        expect(server.seen(id).extensions).toBe('');
      } else {
        for (const pattern of row.extensions) expect(conn.extensions).toMatch(pattern);
        expect(server.seen(id).extensions).toMatch(/^permessage-deflate/);
      }
      await closeCleanly(conn);
    },
  },
  ...SIZES.map(
    (n): Scenario => ({
      name: `text of ${n} bytes round trip`,
      async run({ open }) {
        const { conn } = await open('echo');
        conn.send(text(n));
        const m = await conn.nextMessage();
        expect(m.binary).toBe(false);
        expect(m.data.toString()).toBe(text(n));
        await closeCleanly(conn);
      },
    }),
  ),
  ...SIZES.map(
    (n): Scenario => ({
      name: `binary of ${n} bytes round trip`,
      async run({ open }) {
        const { conn } = await open('echo');
        conn.send(binary(n));
        const m = await conn.nextMessage();
        expect(m.binary).toBe(true);
        expect(m.data.equals(binary(n))).toBe(true);
        await closeCleanly(conn);
      },
    }),
  ),
  {
    name: '100 messages in a row keep their order (and the compression context)',
    async run({ open }) {
      const { conn } = await open('echo');
      const sent = Array.from({ length: 100 }, (_, i) => `${'{"n":'.repeat(1 + (i % 40))}${i}`);
      for (const s of sent) conn.send(s);
      const got: string[] = [];
      for (let i = 0; i < sent.length; i++) got.push((await conn.nextMessage()).data.toString());
      expect(got).toEqual(sent);
      await closeCleanly(conn);
    },
  },
  {
    name: 'bytes sent as an ArrayBuffer, a typed-array view and a Blob come back as sent',
    needs: ['browserTypes'],
    async run({ open }) {
      const { conn } = await open('echo');
      const bytes = binary(3000);
      for (const form of ['arraybuffer', 'view', 'blob'] as const) conn.sendAs(form, bytes);
      for (let i = 0; i < 3; i++) {
        const m = await conn.nextMessage();
        expect([m.binary, m.kind, m.data.equals(bytes)]).toEqual([true, 'arraybuffer', true]);
      }
      await closeCleanly(conn);
    },
  },
  {
    name: "binaryType 'blob': binary messages arrive as Blobs, text still as strings",
    needs: ['browserTypes'],
    async run({ open }) {
      const { conn } = await open('echo');
      await conn.binaryType('blob');
      conn.send(binary(70_000));
      conn.send('after the blob');
      const b = await conn.nextMessage();
      const t = await conn.nextMessage();
      expect([b.kind, b.data.equals(binary(70_000))]).toEqual(['blob', true]);
      expect([t.kind, t.data.toString()]).toEqual(['string', 'after the blob']);
      await closeCleanly(conn);
    },
  },
  {
    name: 'fragmented text and binary sent by the client are reassembled',
    needs: ['sendFragments'],
    async run({ open }) {
      const { conn } = await open('echo');
      conn.sendFragments(['Hello, ', 'fragmented ', 'wörld'], false);
      conn.sendFragments([Buffer.from([1, 2]), Buffer.from([3]), Buffer.from([4, 5])], true);
      expect((await conn.nextMessage()).data.toString()).toBe('Hello, fragmented wörld');
      expect([...(await conn.nextMessage()).data]).toEqual([1, 2, 3, 4, 5]);
      await closeCleanly(conn);
    },
  },
  {
    name: 'fragmented text and binary sent by the server are reassembled by the client',
    async run({ open }) {
      const { conn } = await open('fragments');
      conn.send(text(3001));
      conn.send(binary(3001));
      const t = await conn.nextMessage();
      const b = await conn.nextMessage();
      expect([t.binary, t.data.toString()]).toEqual([false, text(3001)]);
      expect([b.binary, b.data.equals(binary(3001))]).toEqual([true, true]);
      await closeCleanly(conn);
    },
  },
  {
    name: "the client's ping reaches the server, which answers with the same payload",
    needs: ['ping', 'seePongs'],
    async run({ open, server }) {
      const { conn, id } = await open('echo');
      conn.ping(Buffer.from('are you there'));
      expect((await conn.nextPong()).toString()).toBe('are you there');
      expect(server.seen(id).pings.map(String)).toEqual(['are you there']);
      await closeCleanly(conn);
    },
  },
  {
    name: "the client's ping reaches the server (pong not observable)",
    needs: ['ping'],
    async run({ open, server }) {
      const { conn, id } = await open('echo');
      conn.ping(Buffer.from('ping from the client'));
      // An echo sent after the ping comes back after the server has handled the ping.
      conn.send('after the ping');
      await conn.nextMessage();
      expect(server.seen(id).pings.map(String)).toEqual(['ping from the client']);
      await closeCleanly(conn);
    },
  },
  {
    name: "the server's ping is answered by the client with the same payload",
    async run({ open }) {
      const { conn } = await open('ping');
      conn.send(binary(125));
      expect((await conn.nextMessage()).data.toString()).toBe(`pong:${binary(125).toString('hex')}`);
      await closeCleanly(conn);
    },
  },
  ...[1000, 3000, 4999].map(
    (code): Scenario => ({
      name: `the client closes with ${code} and a reason: the server echoes the code and sees the reason`,
      async run({ open, server }) {
        const { conn, id } = await open('echo');
        conn.close(code, `client closes with ${code}`);
        expect((await conn.closed).code).toBe(code);
        await expect
          .poll(() => server.seen(id).close, { timeout: 5000 })
          .toEqual({ code, reason: `client closes with ${code}`, wasClean: true });
      },
    }),
  ),
  ...[1001, 1011, 4000].map(
    (code): Scenario => ({
      name: `the server closes with ${code} and a reason: the client sees both`,
      async run({ open, server }) {
        const { conn, id } = await open(`close/${code}`);
        conn.send('close now');
        expect(await conn.closed).toEqual({ code, reason: `server closes with ${code}` });
        await expect.poll(() => server.seen(id).close?.wasClean, { timeout: 5000 }).toBe(true);
      },
    }),
  ),
];

/** Uncaught exceptions in the page: a bug in the harness page, or in the browser's handling. */
const pageErrors: Error[] = [];
let wsup: InteropServer;
const wsServers = new Map<Row, InteropServer>();
let browser: Browser | undefined;
const cells = new Map<string, { pass: number; na: number; fail: number }>();

beforeAll(async () => {
  wsup = await startInteropServer();
  for (const row of rows) if ('ws' in row.server) wsServers.set(row, await startWsServer(row.server.ws));
  if (rows.some((r) => r.client.name === 'chromium')) {
    // These cells prove that a real browser works with wsup: in CI, no browser must fail them.
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(err));
    await page.goto(`${wsup.url.replace('ws:', 'http:')}/page`);
  }
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await wsup?.close();
  await Promise.all([...wsServers.values()].map((s) => s.close()));
  let pass = 0;
  let na = 0;
  let fail = 0;
  const parts = [...cells.entries()].map(([name, c]) => {
    pass += c.pass;
    na += c.na;
    fail += c.fail;
    return `${name} ${c.pass} pass${c.fail ? `, ${c.fail} fail` : ''}${c.na ? `, ${c.na} n/a` : ''}`;
  });
  const total = `${pass} pass${fail ? `, ${fail} fail` : ''}${na ? `, ${na} n/a` : ''}`;
  console.log(`interop matrix: ${rows.length} rows × ${scenarios.length} scenarios: ${total} | ${parts.join(' | ')}`);
});

let nextId = 0;

for (const row of rows) {
  const counts = { pass: 0, na: 0, fail: 0 };
  cells.set(row.name, counts);
  describe(`interop: ${row.name}`, () => {
    for (const s of scenarios) {
      const missing = s.needs?.filter((n) => !row.client.can[n]) ?? [];
      if (missing.length > 0) {
        counts.na++;
        it.skip(`${s.name} (n/a: the ${row.client.name} client cannot ${missing.join(', ')})`, () => {});
        continue;
      }
      it(s.name, async () => {
        const server = 'ws' in row.server ? wsServers.get(row)! : wsup;
        const open = async (route: string) => {
          const id = String(nextId++);
          const url = `${server.url}/${route}?id=${id}${row.compress ? '&z=1' : ''}`;
          return { conn: await row.client.connect(url), id };
        };
        try {
          await s.run({ open, server, row });
          expect(pageErrors.splice(0)).toEqual([]);
          counts.pass++;
        } catch (err) {
          counts.fail++;
          throw err;
        }
      });
    }
  });
}
