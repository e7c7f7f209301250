/**
 * Interop matrix, first part: a wsup server against other clients (ws, undici's WebSocket), one
 * row per client and one cell per scenario. A cell a client cannot express (undici has the
 * browser API: no fragments, no pong events) is skipped and counted as n/a in the summary line.
 */
import { expect, it, describe, beforeAll, afterAll } from 'vitest';
import { interopClients, type Connection, type InteropClient } from './clients.js';
import { startInteropServer, type InteropServer } from './interop-server.js';

interface Scenario {
  name: string;
  needs?: (keyof InteropClient['can'])[];
  run(open: (route: string) => Promise<{ conn: Connection; id: string }>, server: InteropServer): Promise<void>;
}

const SIZES = [0, 125, 126, 65535, 65536, 1 << 20];
const text = (n: number) => 'é'.repeat(n >> 1) + (n & 1 ? 'a' : '');
const binary = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff));

async function closeCleanly(conn: Connection): Promise<void> {
  conn.close(1000);
  expect((await conn.closed).code).toBe(1000);
}

const scenarios: Scenario[] = [
  ...SIZES.map(
    (n): Scenario => ({
      name: `text of ${n} bytes round trip`,
      async run(open) {
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
      async run(open) {
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
    name: 'fragmented text and binary sent by the client are reassembled',
    needs: ['sendFragments'],
    async run(open) {
      const { conn } = await open('echo');
      conn.sendFragments(['Hello, ', 'fragmented ', 'wörld'], false);
      conn.sendFragments([Buffer.from([1, 2]), Buffer.from([3]), Buffer.from([4, 5])], true);
      expect((await conn.nextMessage()).data.toString()).toBe('Hello, fragmented wörld');
      expect([...(await conn.nextMessage()).data]).toEqual([1, 2, 3, 4, 5]);
      await closeCleanly(conn);
    },
  },
  {
    name: 'fragmented text and binary sent by wsup are reassembled by the client',
    async run(open) {
      const { conn } = await open('fragments');
      conn.send(text(1001));
      conn.send(binary(1001));
      const t = await conn.nextMessage();
      const b = await conn.nextMessage();
      expect([t.binary, t.data.toString()]).toEqual([false, text(1001)]);
      expect([b.binary, b.data.equals(binary(1001))]).toEqual([true, true]);
      await closeCleanly(conn);
    },
  },
  {
    name: "the client's ping reaches wsup, which answers with the same payload",
    needs: ['seePongs'],
    async run(open, server) {
      const { conn, id } = await open('echo');
      conn.ping(Buffer.from('are you there'));
      expect((await conn.nextPong()).toString()).toBe('are you there');
      expect(server.seen(id).pings.map(String)).toEqual(['are you there']);
      await closeCleanly(conn);
    },
  },
  {
    name: "the client's ping reaches wsup (pong not observable)",
    async run(open, server) {
      const { conn, id } = await open('echo');
      conn.ping(Buffer.from('ping from the client'));
      // An echo sent after the ping comes back after wsup has handled the ping.
      conn.send('after the ping');
      await conn.nextMessage();
      expect(server.seen(id).pings.map(String)).toEqual(['ping from the client']);
      await closeCleanly(conn);
    },
  },
  {
    name: "wsup's ping is answered by the client with the same payload",
    async run(open) {
      const { conn } = await open('ping');
      conn.send(binary(125));
      expect((await conn.nextMessage()).data.toString()).toBe(`pong:${binary(125).toString('hex')}`);
      await closeCleanly(conn);
    },
  },
  ...[1000, 3000, 4999].map(
    (code): Scenario => ({
      name: `the client closes with ${code} and a reason: wsup echoes the code and sees the reason`,
      async run(open, server) {
        const { conn, id } = await open('echo');
        conn.close(code, `client closes with ${code}`);
        expect((await conn.closed).code).toBe(code);
        await expect.poll(() => server.seen(id).close).toEqual({ code, reason: `client closes with ${code}`, wasClean: true });
      },
    }),
  ),
  ...[1001, 1011, 4000].map(
    (code): Scenario => ({
      name: `wsup closes with ${code} and a reason: the client sees both`,
      async run(open, server) {
        const { conn, id } = await open(`close/${code}`);
        conn.send('close now');
        expect(await conn.closed).toEqual({ code, reason: `server closes with ${code}` });
        await expect.poll(() => server.seen(id).close?.wasClean).toBe(true);
      },
    }),
  ),
];

let server: InteropServer;
const cells = new Map<string, { pass: number; na: number; fail: number }>();

beforeAll(async () => {
  server = await startInteropServer();
});

afterAll(async () => {
  await server?.close();
  const rows = [...cells.entries()].map(([name, c]) => `${name} ${c.pass} pass${c.fail ? `, ${c.fail} fail` : ''}${c.na ? `, ${c.na} n/a` : ''}`);
  console.log(`interop (wsup server): ${scenarios.length} scenarios | ${rows.join(' | ')}`);
});

let nextId = 0;

for (const client of interopClients) {
  const row = { pass: 0, na: 0, fail: 0 };
  cells.set(client.name, row);
  describe(`interop: ${client.name} client → wsup server`, () => {
    for (const s of scenarios) {
      if (s.needs?.some((n) => !client.can[n])) {
        row.na++;
        it.skip(`${s.name} (n/a: the ${client.name} client cannot ${s.needs.join(', ')})`, () => {});
        continue;
      }
      it(s.name, async () => {
        const open = async (route: string) => {
          const id = String(nextId++);
          return { conn: await client.connect(`${server.url}/${route}?id=${id}`), id };
        };
        try {
          await s.run(open, server);
          row.pass++;
        } catch (err) {
          row.fail++;
          throw err;
        }
      });
    }
  });
}
