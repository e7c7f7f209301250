/**
 * The batch Buffer small flushes share: TCP sockets that take a batch whole inside write() leave
 * it to the next connection; a socket that keeps it (the kernel took only part) never sees it
 * overwritten; and a sender not told its sink copies (an in-memory stream, say) frames every batch
 * in a Buffer of its own. (Which sockets copy: test/connection/copies-on-write.test.ts.)
 */
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Sender } from '../../src/protocol/sender.js';
import { decodeFrames } from '../helpers/raw.js';
import { RecordingSink } from '../helpers/sink.js';

/** `n` connected TCP pairs on 127.0.0.1: the accepted (server) ends and the client ends. */
async function tcpPairs(n: number): Promise<{ server: Server; accepted: Socket[]; clients: Socket[] }> {
  const accepted: Socket[] = [];
  const server = createServer((s) => accepted.push(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const clients: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const c = connect(port, '127.0.0.1');
    await once(c, 'connect');
    clients.push(c);
  }
  while (accepted.length < n) await turn();
  return { server, accepted, clients };
}

/** Everything a socket receives, from now on. */
function collect(socket: Socket): Buffer[] {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return chunks;
}

/** Resolves once `chunks` hold `bytes` bytes. */
async function until(chunks: Buffer[], bytes: number): Promise<void> {
  while (chunks.reduce((n, c) => n + c.length, 0) < bytes) await turn();
}

/** The text payloads of the frames in `chunks`, with nothing left over. */
function texts(chunks: Buffer[]): string[] {
  const { frames, rest } = decodeFrames(Buffer.concat(chunks));
  expect(rest.length).toBe(0);
  return frames.map((f) => f.payload.toString());
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('the batch buffer small flushes share', () => {
  it('frames every TCP connection of a turn in the same Buffer, and each peer receives its own bytes', async () => {
    const { server, accepted, clients } = await tcpPairs(16);
    cleanups.push(() => {
      for (const s of [...accepted, ...clients]) s.destroy();
      server.close();
    });
    const received = clients.map(collect);
    const written: Buffer[][] = accepted.map(() => []);
    const senders = accepted.map((socket, i) => {
      const write = socket.write.bind(socket);
      socket.write = ((chunk: Buffer) => {
        written[i]!.push(chunk);
        return write(chunk);
      }) as typeof socket.write;
      return new Sender(socket, false, undefined, true);
    });
    const expected: string[][] = accepted.map(() => []);
    for (let t = 0; t < 5; t++) {
      senders.forEach((sender, i) => {
        for (let k = 0; k <= i % 3; k++) {
          const text = `turn ${t} connection ${i} frame ${k} `.padEnd(40 + i, String.fromCharCode(97 + i));
          sender.queueFrame(1, text, text.length, true, false);
          expected[i]!.push(text);
        }
      });
      await turn();
    }
    // Each frame: a 2-byte header and its text (under 126 bytes).
    for (const [i, chunks] of received.entries())
      await until(
        chunks,
        expected[i]!.reduce((n, t) => n + 2 + t.length, 0),
      );
    expect(received.map(texts)).toEqual(expected);
    // Shared: every connection's first batch went out from the start of the one Buffer.
    expect(new Set(written.map((w) => w[0]!.buffer)).size).toBe(1);
    expect(new Set(written.map((w) => w[0]!.byteOffset))).toEqual(new Set([0]));
  });

  it('never overwrites a batch a stalled socket still holds', async () => {
    const { server, accepted, clients } = await tcpPairs(2);
    cleanups.push(() => {
      for (const s of [...accepted, ...clients]) s.destroy();
      server.close();
    });
    const [stalledPeer, otherPeer] = clients as [Socket, Socket];
    stalledPeer.pause();
    const toOther = collect(otherPeer);
    const stalled = new Sender(accepted[0]!, false, undefined, true);
    const other = new Sender(accepted[1]!, false, undefined, true);

    // Batches of 3 KiB until the kernel takes only part of one and the socket keeps the rest.
    const sent: string[] = [];
    for (let n = 0; accepted[0]!.writableLength === 0; n++) {
      expect(n).toBeLessThan(20_000);
      const text = `${n} `.padEnd(3000, 'x');
      stalled.queueFrame(1, text, text.length, true, false);
      sent.push(text);
      await turn();
    }
    // Other connections' batches, framed meanwhile, must go elsewhere than the kept Buffer.
    const otherSent: string[] = [];
    for (let t = 0; t < 20; t++) {
      const text = `other ${t} `.padEnd(3000, 'y');
      other.queueFrame(1, text, text.length, true, false);
      otherSent.push(text);
      await turn();
    }
    const fromStalled = collect(stalledPeer);
    stalledPeer.resume();
    // Each frame: a 4-byte header (16-bit length) and its 3,000 bytes.
    await until(fromStalled, sent.length * 3004);
    expect(texts(fromStalled)).toEqual(sent);
    await until(toOther, otherSent.length * 3004);
    expect(texts(toOther)).toEqual(otherSent);
  });

  it('gives a sender not told that its sink copies a Buffer of its own for each batch', async () => {
    const sinks = [new RecordingSink(), new RecordingSink(), new RecordingSink()];
    for (const [i, sink] of sinks.entries()) new Sender(sink, false).queueFrame(1, `sink ${i}`, 6, true, false);
    await turn();
    // Read after every sender has flushed: a reused Buffer would show the last one's frame thrice.
    expect(sinks.map((s) => texts(s.chunks))).toEqual([['sink 0'], ['sink 1'], ['sink 2']]);
  });
});
