/** The broker's parts that need no server: the envelope, the outage buffer, mode detection. */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { detectMode } from '../src/capabilities.js';
import { EnvelopeCodec } from '../src/envelope.js';
import { Outbox } from '../src/outbox.js';

describe('EnvelopeCodec', () => {
  it("round-trips another node's payload and binary flag, and copies the payload", () => {
    const a = new EnvelopeCodec('node-a');
    const b = new EnvelopeCodec('node-b');
    const payload = Buffer.from([0, 1, 2, 255]);
    const wire = a.encode(payload, true);
    payload[0] = 9; // the publisher reusing its buffer must not change what was sent
    expect(b.decodeForeign(wire)).toEqual({ payload: Buffer.from([0, 1, 2, 255]), binary: true });
    expect(b.decodeForeign(a.encode(Buffer.from('text'), false))).toEqual({ payload: Buffer.from('text'), binary: false });
    expect(b.decodeForeign(a.encode(Buffer.alloc(0), false))).toEqual({ payload: Buffer.alloc(0), binary: false });
  });

  it('recognises its own messages, and node ids that only share a prefix are not its own', () => {
    const a = new EnvelopeCodec('abc');
    expect(a.decodeForeign(a.encode(Buffer.from('x'), false))).toBeNull();
    expect(a.decodeForeign(new EnvelopeCodec('abcd').encode(Buffer.from('x'), false))).not.toBeNull();
    expect(a.decodeForeign(new EnvelopeCodec('ab').encode(Buffer.from('cx'), false))).not.toBeNull();
  });

  it('rejects what is not an envelope', () => {
    const a = new EnvelopeCodec('a');
    for (const junk of [
      Buffer.alloc(0),
      Buffer.from([1, 0]),
      Buffer.from([2, 0, 1, 0x62]),
      Buffer.from([1, 0, 0, 0x62]),
      Buffer.from([1, 0, 3, 0x62]),
    ]) {
      expect(a.decodeForeign(junk)).toBeNull();
    }
  });

  it('takes node ids of 1 to 255 bytes', () => {
    expect(() => new EnvelopeCodec('')).toThrow(RangeError);
    expect(() => new EnvelopeCodec('x'.repeat(256))).toThrow(RangeError);
    expect(() => new EnvelopeCodec('x'.repeat(255))).not.toThrow();
  });
});

describe('Outbox', () => {
  const msg = (channel: string, bytes: number) => ({ channel, message: Buffer.alloc(bytes) });

  it('keeps messages in order until a count bound', () => {
    const box = new Outbox(3, 1000);
    expect([box.push(msg('a', 1)), box.push(msg('b', 1)), box.push(msg('a', 1)), box.push(msg('c', 1))]).toEqual([true, true, true, false]);
    expect(box.size).toBe(3);
    expect([...box.channels()].sort()).toEqual(['a', 'b']);
    expect(box.takeAll().map((p) => p.channel)).toEqual(['a', 'b', 'a']);
    expect([box.size, box.bytes]).toEqual([0, 0]);
  });

  it('or a byte bound, whichever comes first; a refused message leaves room for smaller ones', () => {
    const box = new Outbox(100, 10);
    expect(box.push(msg('a', 6))).toBe(true);
    expect(box.push(msg('b', 5))).toBe(false);
    expect(box.push(msg('c', 4))).toBe(true);
    expect(box.bytes).toBe(10);
    expect(new Outbox(100, 10).push(msg('big', 11))).toBe(false);
  });
});

describe('detectMode', () => {
  /** The parts of an ioredis client detectMode uses. */
  function fake(call: () => Promise<unknown>, info: () => Promise<string>, status = 'ready'): Redis {
    return { call, info, status } as unknown as Redis;
  }
  const denied = () => Promise.reject(new Error('NOPERM'));

  it('asks COMMAND INFO SPUBLISH: a description means sharded, [null] classic', async () => {
    expect(await detectMode(fake(async () => [['spublish', 3]], denied))).toBe('sharded');
    expect(await detectMode(fake(async () => [null], denied))).toBe('classic');
  });

  it("falls back to INFO's version where COMMAND is denied, and to classic when both are", async () => {
    expect(await detectMode(fake(denied, async () => '# Server\r\nredis_version:7.2.4\r\n'))).toBe('sharded');
    expect(await detectMode(fake(denied, async () => '# Server\r\nredis_version:6.2.14\r\n'))).toBe('classic');
    expect(await detectMode(fake(denied, denied))).toBe('classic');
  });

  it('does not take a lost connection for an old server', async () => {
    await expect(detectMode(fake(denied, async () => 'redis_version:7.0.0', 'reconnecting'))).rejects.toThrow('NOPERM');
  });
});
