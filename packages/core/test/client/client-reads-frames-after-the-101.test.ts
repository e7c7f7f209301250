import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import { connect, ErrorCode } from '@wsup/core';
import { serverFrame, startRawServer, type RawConnection, type RawServer } from '../helpers/raw-server.js';

let srv: RawServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

async function serve(answer: (conn: RawConnection) => void | Promise<void>): Promise<RawServer> {
  srv = await startRawServer((c) => void answer(c));
  return srv;
}

it('keeps frames that arrive in the same packet as the 101', async () => {
  const s = await serve((c) =>
    c.write(Buffer.concat([Buffer.from(c.accept101()), serverFrame(1, 'first'), serverFrame(2, Buffer.from([1, 2, 3]))])),
  );
  const ws = await connect(s.url);
  expect(await ws.receive()).toEqual({ data: 'first', binary: false, fin: true });
  expect(await ws.receive()).toEqual({ data: Buffer.from([1, 2, 3]), binary: true, fin: true });
  ws.terminate();
});

it('reads a 101 and a frame split into single bytes sent one by one', async () => {
  const s = await serve(async (c) => {
    const all = Buffer.concat([Buffer.from(c.accept101('Sec-WebSocket-Protocol: chat\r\n')), serverFrame(1, 'hello in pieces')]);
    for (let i = 0; i < all.length; i++) {
      c.write(all.subarray(i, i + 1));
      await sleep(1);
      if (c.socket.destroyed) return;
    }
  });
  const ws = await connect(s.url, { subprotocols: 'chat' });
  expect(ws.protocol).toBe('chat');
  expect((await ws.receive())?.data).toBe('hello in pieces');
  ws.terminate();
});

it('reads a response that ends its lines with a bare LF', async () => {
  const s = await serve((c) => c.write(Buffer.concat([Buffer.from(c.accept101().replaceAll('\r\n', '\n')), serverFrame(1, 'lf')])));
  const ws = await connect(s.url);
  expect((await ws.receive())?.data).toBe('lf');
  ws.terminate();
});

it('fails the connection with 1002 when the server masks its frames', async () => {
  const s = await serve((c) => {
    c.write(c.accept101());
    c.write(serverFrame(1, 'masked', { mask: true }));
  });
  const ws = await connect(s.url);
  const conn = s.connections[0]!;
  const info = await ws.closed;
  expect(info.code).toBe(1002);
  expect(info.error?.code).toBe(ErrorCode.MaskedFrame);
  // The server was told why, in a (masked) close frame.
  const close = await conn.nextFrame();
  expect(close?.opcode).toBe(8);
  expect(close?.payload.readUInt16BE(0)).toBe(1002);
});

it('fails the connection with 1002 on garbage after the handshake', async () => {
  const s = await serve((c) => c.write(`${c.accept101()}this is not a WebSocket frame`));
  const ws = await connect(s.url);
  expect(await ws.receive()).toBeNull();
  const info = await ws.closed;
  expect(info.code).toBe(1002);
  expect(info.error).toBeDefined();
});

it('fails the connection with 1002 on garbage arriving later', async () => {
  const s = await serve(async (c) => {
    c.write(c.accept101());
    c.write(serverFrame(1, 'fine'));
    await sleep(10);
    c.write(Buffer.from([0x83, 0x00]));
  });
  const ws = await connect(s.url);
  expect((await ws.receive())?.data).toBe('fine');
  const info = await ws.closed;
  expect(info.code).toBe(1002);
  expect(info.error?.code).toBe(ErrorCode.InvalidOpcode);
});
