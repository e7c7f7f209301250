/**
 * `send(data, binary, { compress: false })` sends one message uncompressed on a connection that
 * agreed permessage-deflate: RSV1 clear (RFC 7692 §6), the payload as given. Read off the wire
 * by a raw client, with its own inflater keeping the compression context across messages.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { upgrade, type SendOptions, type UpgradeOptions, type WebSocket } from '@wsup/core';
import { handshakeRequest, type RawFrame, RawPeer } from '../helpers/raw.js';
import { TestInflater } from '../helpers/pmd.js';
import { startServer, type TestServer } from '../helpers/server.js';

type Send = [data: string | Buffer, binary: boolean | undefined, options: SendOptions | undefined];

let srv: TestServer;
const routes = new Map<string, { opts: UpgradeOptions; sends: Send[] }>();

beforeAll(async () => {
  srv = await startServer((req, res) => {
    const route = routes.get(req.url!)!;
    const ws: WebSocket = upgrade(req, res, route.opts);
    for (const [data, binary, options] of route.sends) ws.send(data, binary, options);
  });
});
afterAll(() => srv.close());

let n = 0;
async function framesOf(opts: UpgradeOptions, offer: string | undefined, sends: Send[]): Promise<RawFrame[]> {
  const path = `/c${n++}`;
  routes.set(path, { opts, sends });
  const peer = await RawPeer.open(srv.port, handshakeRequest(path, offer ? { 'Sec-WebSocket-Extensions': offer } : {}));
  expect(peer.response?.status).toBe(101);
  const frames: RawFrame[] = [];
  for (let i = 0; i < sends.length; i++) frames.push((await peer.nextFrame())!);
  peer.destroy();
  return frames;
}

const text = 'compressible text '.repeat(100);
const bytes = Buffer.from(text);
const RSV1 = 4;

it('compress: false clears RSV1 and sends the payload as given; the default and true compress as before', async () => {
  const frames = await framesOf({ compress: { threshold: 0 } }, 'permessage-deflate', [
    [text, undefined, undefined],
    [text, undefined, { compress: false }],
    [text, undefined, { compress: true }],
    [bytes, undefined, { compress: false }],
    [text, true, { compress: false }],
    [bytes, false, { compress: false }],
    [bytes, undefined, {}],
  ]);
  expect(frames.map((f) => [f.opcode, f.rsv])).toEqual([
    [1, RSV1],
    [1, 0],
    [1, RSV1],
    [2, 0],
    [2, 0],
    [1, 0],
    [2, RSV1],
  ]);
  // One inflater for all, in order: an uncompressed message between compressed ones leaves the
  // server's compression context as the client's decompression context expects it.
  const inflater = new TestInflater();
  for (const f of frames) {
    const payload = f.rsv === RSV1 ? await inflater.inflate(f.payload) : f.payload;
    expect(payload.toString()).toBe(text);
  }
});

it('compress: true keeps the connection’s decision: under the threshold, or without the extension, nothing is compressed', async () => {
  const underThreshold = await framesOf({ compress: { threshold: 4096 } }, 'permessage-deflate', [[text, undefined, { compress: true }]]);
  expect(underThreshold[0]!.rsv).toBe(0);
  const notAgreed = await framesOf({ compress: true }, undefined, [[text, undefined, { compress: true }]]);
  expect(notAgreed[0]!.rsv).toBe(0);
  expect(notAgreed[0]!.payload.toString()).toBe(text);
});

it('compress: false with server context takeover off leaves the next messages decodable on their own', async () => {
  const frames = await framesOf({ compress: { threshold: 0 } }, 'permessage-deflate; server_no_context_takeover', [
    [text, undefined, { compress: false }],
    [text, undefined, undefined],
  ]);
  expect(frames.map((f) => f.rsv)).toEqual([0, RSV1]);
  expect((await new TestInflater().inflate(frames[1]!.payload)).toString()).toBe(text);
});
