/**
 * Compressed messages that inflate to megabytes (deflate amplification: 2 KiB on the wire, 2 MiB
 * inflated) are spread over turns of the event loop: the connection stops reading between them
 * once it has inflated a slice, so other connections and timers run in between, and none of the
 * messages is lost, reordered or delayed past the next turn.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, upgrade, type WebSocket } from '@wsup/core';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

const MESSAGES = 12;
const SIZE = 2 * 1024 * 1024;

describe('inflation yields the event loop', () => {
  it('delivers messages that each inflate to 2 MiB over several turns, in order, and then the close', async () => {
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    const turns: number[] = [];
    const tags: number[] = [];
    let server!: WebSocket;
    let finished!: () => void;
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    const s = await start((ws) => {
      server = ws;
      ws.on('message', (m) => {
        turns.push(turn);
        tags.push((m.data as Buffer)[0]!);
        expect((m.data as Buffer).length).toBe(SIZE);
        if (tags.length === MESSAGES) finished();
      });
    });
    const client = await connect(s.url, { compress: true, maxPayload: 64 << 20 });
    setImmediate(tick);
    // All sent in one turn: one write of ~12 × 2 KiB, read by the server in one chunk.
    for (let i = 0; i < MESSAGES; i++) client.send(Buffer.alloc(SIZE, i));
    await done;
    ticking = false;
    expect(tags).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    // At most one slice (1 MiB, so one 2 MiB message) per turn.
    expect(new Set(turns).size).toBe(MESSAGES);
    const closed = client.close(1000, 'bye');
    expect((await closed).code).toBe(1000);
    expect((await server.closed).wasClean).toBe(true);
  });

  it('a peer that half-closes right after its messages still has all of them read', async () => {
    const tags: number[] = [];
    let server!: WebSocket;
    const s = await start((ws) => {
      server = ws;
      ws.on('message', (m) => tags.push((m.data as Buffer)[0]!));
    });
    const client = await connect(s.url, { compress: true, maxPayload: 64 << 20 });
    for (let i = 0; i < 4; i++) client.send(Buffer.alloc(SIZE, i));
    // The client's socket ends its side after the batch: the server sees 'end' while it still
    // holds input back.
    setImmediate(() => (client as unknown as { socket: { end(): void } }).socket.end());
    await server.closed;
    expect(tags).toEqual([0, 1, 2, 3]);
  });
});

async function start(onSocket: (ws: WebSocket) => void): Promise<TestServer> {
  srv = await startServer((req, res) => onSocket(upgrade(req, res, { compress: true, maxPayload: 64 << 20 })));
  return srv;
}
