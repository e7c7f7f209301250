/** A frame sink for the sender's tests: keeps every chunk written, by reference, as a stream that passes Buffers on would. */
import type { FrameSink } from '../../src/protocol/sender.js';

export class RecordingSink implements FrameSink {
  readonly chunks: Buffer[] = [];
  writable = true;
  writableLength = 0;
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }
  cork(): void {}
  uncork(): void {}
}
