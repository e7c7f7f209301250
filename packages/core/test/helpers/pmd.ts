/**
 * An independent permessage-deflate peer for tests, on node:zlib streams (not wsup's code).
 */
import zlib from 'node:zlib';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Deflates like an RFC 7692 sender: sync flush, trailing 00 00 ff ff removed. */
export class TestDeflater {
  private stream: zlib.DeflateRaw;
  constructor(private readonly takeover = true) {
    this.stream = zlib.createDeflateRaw();
  }
  async compress(data: Buffer): Promise<Buffer> {
    if (!this.takeover) {
      const out = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      return out.subarray(0, out.length - 4);
    }
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    this.stream.on('data', onData);
    this.stream.write(data);
    await new Promise<void>((resolve) => this.stream.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    this.stream.off('data', onData);
    const out = Buffer.concat(chunks);
    return out.subarray(0, out.length - 4);
  }
}

/** Inflates messages from an RFC 7692 sender, keeping the context between messages. */
export class TestInflater {
  private stream = zlib.createInflateRaw();
  async inflate(data: Buffer): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    this.stream.on('data', onData);
    this.stream.write(Buffer.concat([data, TAIL]));
    await new Promise<void>((resolve) => this.stream.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    this.stream.off('data', onData);
    return Buffer.concat(chunks);
  }
}

/** A bomb: `size` zero bytes deflated, fed 1 MiB at a time so the test itself stays small. */
export async function zeroBomb(size: number): Promise<Buffer> {
  const stream = zlib.createDeflateRaw({ level: 9 });
  const parts: Buffer[] = [];
  stream.on('data', (c: Buffer) => parts.push(c));
  const zeros = Buffer.alloc(1 << 20);
  for (let left = size; left > 0; left -= zeros.length) {
    if (!stream.write(zeros.subarray(0, Math.min(left, zeros.length)))) {
      await new Promise<void>((r) => stream.once('drain', () => r()));
    }
  }
  await new Promise<void>((resolve) => stream.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  stream.close();
  const out = Buffer.concat(parts);
  return out.subarray(0, out.length - 4);
}
