import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '@wsup/core';
import { startRawServer, type RawServer } from '../helpers/raw-server.js';

let srv: RawServer;
beforeAll(async () => {
  srv = await startRawServer((conn) => conn.write(conn.accept101()));
});
afterAll(() => srv.close());

it('masks every frame it sends (data, ping, close) and the payloads unmask correctly', async () => {
  const ws = await connect(srv.url);
  const conn = await srv.nextConnection();
  const sent: Buffer[] = [];
  for (let i = 0; i < 20; i++) {
    const payload = Buffer.from(`message ${i} ${'x'.repeat(i * 7)}`);
    sent.push(payload);
    ws.send(payload);
  }
  ws.ping('are you there');
  for (const payload of sent) {
    const f = (await conn.nextFrame())!;
    expect(f.masked).toBe(true);
    expect(f.opcode).toBe(2);
    expect(f.payload.equals(payload)).toBe(true);
  }
  const ping = (await conn.nextFrame())!;
  expect(ping).toMatchObject({ opcode: 9, masked: true });
  expect(ping.payload.toString()).toBe('are you there');
  void ws.close(1000);
  const close = (await conn.nextFrame())!;
  expect(close).toMatchObject({ opcode: 8, masked: true });
  expect(close.payload.readUInt16BE(0)).toBe(1000);
  conn.socket.destroy();
});

it('uses a fresh random key for each frame', async () => {
  const keys = await rawKeys(srv, 20);
  expect(new Set(keys).size).toBe(20);
});

/** Mask keys of `n` frames as they appear on the wire. */
async function rawKeys(server: RawServer, n: number): Promise<string[]> {
  const ws = await connect(server.url);
  const conn = await server.nextConnection();
  let wire = Buffer.alloc(0);
  conn.socket.removeAllListeners('data');
  const done = new Promise<void>((resolve) => {
    conn.socket.on('data', (d: Buffer) => {
      wire = Buffer.concat([wire, d]);
      if (wire.length >= n * 6 + n) resolve();
    });
  });
  for (let i = 0; i < n; i++) ws.send(Buffer.from([i]));
  await done;
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    // 1-byte payloads: 2 header bytes, 4 key bytes, 1 payload byte.
    const frame = wire.subarray(i * 7, i * 7 + 7);
    expect(frame[1]! & 0x80).toBe(0x80);
    expect(frame[6]! ^ frame[2]!).toBe(i);
    keys.push(frame.subarray(2, 6).toString('hex'));
  }
  ws.terminate();
  return keys;
}
