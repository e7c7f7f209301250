import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upgrade, type CloseInfo } from '@wsup/core';
import { closePayload, encodeFrame, handshakeRequest, RawPeer, type FrameSpec } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
const serverSide = new Map<string, CloseInfo>();
let nextId = 0;

beforeAll(async () => {
  srv = await startServer(async (req, res) => {
    const ws = upgrade(req, res, { maxPayload: 64 * 1024, maxFragments: 50, closeTimeout: 1 });
    const id = new URL(req.url!, 'http://x').searchParams.get('id')!;
    ws.closed.then((info) => serverSide.set(id, info));
    for await (const msg of ws) ws.send(msg.data, msg.binary);
  });
});
afterAll(() => srv.close());

async function openPeer(): Promise<RawPeer & { id: string }> {
  const id = String(nextId++);
  const peer = await RawPeer.open(srv.port, handshakeRequest(`/?id=${id}`));
  expect(peer.response?.status).toBe(101);
  return Object.assign(peer, { id });
}

async function serverClose(id: string): Promise<CloseInfo> {
  await expect.poll(() => serverSide.has(id)).toBe(true);
  return serverSide.get(id)!;
}

const f = (...specs: FrameSpec[]) => Buffer.concat(specs.map(encodeFrame));

const violations: [string, Buffer, number][] = [
  ['RSV1 set without an extension', f({ opcode: 1, rsv: 4, payload: 'x' }), 1002],
  ['RSV2 set', f({ opcode: 2, rsv: 2 }), 1002],
  ['RSV3 set', f({ opcode: 2, rsv: 1 }), 1002],
  ['reserved opcode 3', f({ opcode: 3 }), 1002],
  ['reserved opcode 4 with payload', f({ opcode: 4, payload: 'reserved' }), 1002],
  ['reserved control opcode 11', f({ opcode: 11 }), 1002],
  ['reserved control opcode 15 with payload', f({ opcode: 15, payload: 'reserved' }), 1002],
  ['an unmasked frame', f({ opcode: 1, payload: 'hi', mask: false }), 1002],
  ['a ping with 126 bytes', f({ opcode: 9, payload: Buffer.alloc(126) }), 1002],
  ['a fragmented ping', f({ opcode: 9, fin: false, payload: 'a' }, { opcode: 0, payload: 'b' }), 1002],
  ['a continuation with nothing to continue', f({ opcode: 0, payload: 'x' }), 1002],
  ['a text frame inside a fragmented message', f({ opcode: 1, fin: false, payload: 'a' }, { opcode: 1, payload: 'b' }), 1002],
  ['a 64-bit length with the top bit set', Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]), 1002],
  ['a close frame with a 1-byte payload', f({ opcode: 8, payload: Buffer.from([3]) }), 1002],
  ['close code 999', f({ opcode: 8, payload: closePayload(999) }), 1002],
  ['close code 1004', f({ opcode: 8, payload: closePayload(1004) }), 1002],
  ['close code 1005', f({ opcode: 8, payload: closePayload(1005) }), 1002],
  ['close code 1006', f({ opcode: 8, payload: closePayload(1006) }), 1002],
  ['close code 1012', f({ opcode: 8, payload: closePayload(1012) }), 1002],
  ['close code 1016', f({ opcode: 8, payload: closePayload(1016) }), 1002],
  ['close code 2000', f({ opcode: 8, payload: closePayload(2000) }), 1002],
  ['close code 5000', f({ opcode: 8, payload: closePayload(5000) }), 1002],
  ['a close reason that is not UTF-8', f({ opcode: 8, payload: Buffer.concat([closePayload(1000), Buffer.from([0xff])]) }), 1007],
  [
    'invalid UTF-8 in a text message',
    f({ opcode: 1, payload: Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80]) }),
    1007,
  ],
  [
    'invalid UTF-8 in a later fragment',
    f({ opcode: 1, fin: false, payload: 'fine' }, { opcode: 0, fin: false, payload: Buffer.from([0xf4, 0x90, 0x80, 0x80]) }),
    1007,
  ],
  ['a message over maxPayload', f({ opcode: 2, payload: Buffer.alloc(64 * 1024 + 1) }), 1009],
  ['too many fragments', f(...Array.from({ length: 51 }, (_, i) => ({ opcode: i === 0 ? 2 : 0, fin: false }))), 1009],
];

describe('every protocol violation gets its close code and the TCP connection is closed', () => {
  for (const [name, bytes, code] of violations) {
    it(`${name} → ${code}`, async () => {
      const peer = await openPeer();
      peer.send(bytes);
      const result = await peer.expectClose();
      expect(result.code).toBe(code);
      expect(result.frames).toEqual([]);
      expect(peer.socket.destroyed || peer.socket.readableEnded).toBe(true);
    });
  }

  it('the server keeps serving other connections, and they are unaffected', async () => {
    const healthy = await openPeer();
    for (const [, bytes] of violations.slice(0, 8)) {
      const bad = await openPeer();
      bad.send(bytes);
      await bad.expectClose();
    }
    healthy.sendFrame({ opcode: 1, payload: 'still here' });
    expect((await healthy.nextFrame())?.payload.toString()).toBe('still here');
    healthy.destroy();
  });

  it('fails fast: invalid UTF-8 closes before the rest of the frame is sent', async () => {
    const peer = await openPeer();
    const frame = encodeFrame({ opcode: 1, payload: Buffer.concat([Buffer.from('ok '), Buffer.from([0xff]), Buffer.alloc(10_000, 0x61)]) });
    peer.send(frame.subarray(0, 100)); // header + the bad byte; 9,900 bytes never sent
    const result = await peer.expectClose();
    expect(result.code).toBe(1007);
  });

  it('reports the failure on the server side with a typed error', async () => {
    const peer = await openPeer();
    peer.sendFrame({ opcode: 3 });
    await peer.expectClose();
    const info = await serverClose(peer.id);
    expect(info).toMatchObject({ code: 1002, wasClean: false });
    expect(info.error?.code).toBe('ERR_INVALID_OPCODE');
  });
});

describe('close handshake', () => {
  it('echoes the close code of a client-initiated close and ends the TCP connection', async () => {
    const peer = await openPeer();
    peer.sendFrame({ opcode: 8, payload: closePayload(4321, 'done') });
    const result = await peer.expectClose();
    expect(result.code).toBe(4321);
    expect(await serverClose(peer.id)).toEqual({ code: 4321, reason: 'done', wasClean: true });
  });

  it('answers an empty close frame with an empty close frame (code 1005 reported)', async () => {
    const peer = await openPeer();
    peer.sendFrame({ opcode: 8 });
    const frames = await peer.readUntilClose();
    expect(frames.at(-1)?.payload.length).toBe(0);
    await peer.ended;
    expect((await serverClose(peer.id)).code).toBe(1005);
  });

  it('ignores data after the close frame', async () => {
    const peer = await openPeer();
    peer.send(f({ opcode: 8, payload: closePayload(1000) }, { opcode: 1, payload: 'too late' }));
    const result = await peer.expectClose();
    expect(result.frames).toEqual([]);
    expect(result.code).toBe(1000);
  });

  it('delivers messages sent before the close frame', async () => {
    const peer = await openPeer();
    peer.send(f({ opcode: 1, payload: 'one' }, { opcode: 1, payload: 'two' }, { opcode: 8, payload: closePayload(1000) }));
    const result = await peer.expectClose();
    expect(result.frames.map((x) => x.payload.toString())).toEqual(['one', 'two']);
  });

  it('counts a peer that vanishes without a close frame as 1006', async () => {
    const peer = await openPeer();
    peer.destroy();
    expect(await serverClose(peer.id)).toMatchObject({ code: 1006, wasClean: false });
  });
});
