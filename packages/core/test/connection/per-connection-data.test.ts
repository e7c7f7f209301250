/**
 * `ws.data`: the application's own per-connection state, set by `upgrade(req, res, { data })`,
 * typed by it, replaceable later, and never part of the options that equal connections share.
 * The type assertions are checked by `tsc` (the test files are type-checked), the rest at run time.
 */
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:http';
import { afterAll, beforeAll, expect, expectTypeOf, it } from 'vitest';
import { connect, handleUpgrades, injectUpgrade, upgrade, type UpgradeOptions, type WebSocket } from '@wsup/core';
import { startServer, type TestServer } from '../helpers/server.js';

interface User {
  name: string;
  rooms: string[];
}

let srv: TestServer;
const accepted: WebSocket[] = [];

function userOf(req: IncomingMessage): User {
  return { name: new URL(req.url!, 'http://x').searchParams.get('name') ?? 'anonymous', rooms: [] };
}

beforeAll(async () => {
  srv = await startServer(async (req, res) => {
    if (req.url!.startsWith('/late')) {
      // Authenticated after the upgrade: the type says so.
      const ws = upgrade<User | undefined>(req, res, { maxPayload: 1024 });
      accepted.push(ws);
      const token = await ws.receive();
      ws.data = { name: String(token?.data), rooms: ['lobby'] };
      ws.send(`hello ${ws.data.name}`);
      return;
    }
    const ws = upgrade(req, res, { maxPayload: 1024, data: userOf(req) });
    expectTypeOf(ws).toEqualTypeOf<WebSocket<User>>();
    expectTypeOf(ws.data).toEqualTypeOf<User>();
    accepted.push(ws);
    for await (const msg of ws) {
      ws.data.rooms.push(String(msg.data));
      ws.send(`${ws.data.name} in ${ws.data.rooms.join(',')}`);
    }
  });
});
afterAll(() => srv.close());

it('upgrade(req, res, { data }) sets ws.data for that connection alone; equal options are still shared', async () => {
  const ann = await connect(`${srv.url}/?name=ann`);
  const bob = await connect(`${srv.url}/?name=bob`);
  ann.send('red');
  bob.send('blue');
  expect((await ann.receive())?.data).toBe('ann in red');
  expect((await bob.receive())?.data).toBe('bob in blue');
  const [a, b] = accepted.slice(-2) as [WebSocket<User>, WebSocket<User>];
  expect([a.data.name, b.data.name]).toEqual(['ann', 'bob']);
  // The data is the connection's, not its options': connections with equal options share one
  // resolved options object, which must hold nothing of either.
  expect(a.options).toBe(b.options);
  expect(Object.values(a.options)).not.toContain(a.data);
  await ann.close();
  await bob.close();
});

it('ws.data can be set after the upgrade (after authenticating, say), and stays readable after the close', async () => {
  const c = await connect(`${srv.url}/late`);
  c.send('carol');
  expect((await c.receive())?.data).toBe('hello carol');
  const ws = accepted.at(-1) as WebSocket<User | undefined>;
  await c.close();
  await ws.closed;
  expect(ws.data).toEqual({ name: 'carol', rooms: ['lobby'] });
});

it('without data, ws.data is undefined, and so typed', async () => {
  const server = createServer((req, res) => {
    const ws = upgrade(req, res);
    expectTypeOf(ws.data).toEqualTypeOf<undefined>();
    // Never called: `tsc` checks that a WebSocket upgraded without data takes none unless its type says so.
    const typeCheck = () => {
      // @ts-expect-error: typed undefined
      ws.data = { name: 'x' };
    };
    ws.send(`${String(ws.data)} ${typeof typeCheck}`);
  });
  handleUpgrades(server);
  const ws = await injectUpgrade(server);
  expect((await ws.receive())?.data).toBe('undefined function');
  await ws.close();
});

it('a typed WebSocket is a WebSocket: the router’s clients, handlers and options typed without data accept it', async () => {
  const typed = accepted.find((ws) => (ws.data as User | undefined)?.name !== undefined) as WebSocket<User>;
  const plain: WebSocket = typed;
  const all: ReadonlySet<WebSocket> = srv.router.clients;
  const countRooms = (ws: WebSocket) => (ws.data as User).rooms.length;
  expect(countRooms(typed)).toBe(typed.data.rooms.length);
  expect(plain).toBe(typed);
  expectTypeOf(all).toEqualTypeOf<ReadonlySet<WebSocket<unknown>>>();
  // Options typed without a data type (as adapters pass them through) carry any data.
  const options: UpgradeOptions = { data: 42 };
  expectTypeOf(options.data).toEqualTypeOf<unknown>();
});
