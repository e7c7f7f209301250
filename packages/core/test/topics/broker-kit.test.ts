/**
 * The broker kit every cross-process broker builds on: the envelope a message travels in, the
 * bounded outage buffer, the buffer options and the dropped-message error.
 */
import { describe, expect, it } from 'vitest';
import {
  BrokerOutbox,
  brokerOutage,
  checkTopicEncodable,
  DroppedMessageError,
  ErrorCode,
  MessageEnvelope,
  resolveBrokerBuffer,
  WebSocketError,
} from '@wsup/core';

describe('MessageEnvelope', () => {
  it("round-trips another node's payload and binary flag, and copies the payload", () => {
    const a = new MessageEnvelope('node-a');
    const b = new MessageEnvelope('node-b');
    const payload = Buffer.from([0, 1, 2, 255]);
    const wire = a.encode(payload, true);
    payload[0] = 9; // the publisher reusing its buffer must not change what was sent
    expect(b.decodeForeign(wire)).toEqual({ payload: Buffer.from([0, 1, 2, 255]), binary: true, sender: Buffer.from('node-a') });
    expect(b.decodeForeign(a.encode(Buffer.from('text'), false))).toMatchObject({ payload: Buffer.from('text'), binary: false });
    expect(b.decodeForeign(a.encode(Buffer.alloc(0), false))).toMatchObject({ payload: Buffer.alloc(0), binary: false });
    // A Uint8Array that is not a Buffer (as the NATS client hands out) decodes the same.
    const plain = new Uint8Array(wire.buffer.slice(wire.byteOffset, wire.byteOffset + wire.length));
    expect(b.decodeForeign(plain)?.payload).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('recognises its own messages, and node ids that only share a prefix are not its own', () => {
    const a = new MessageEnvelope('abc');
    expect(a.decodeForeign(a.encode(Buffer.from('x'), false))).toBeNull();
    expect(a.decodeForeign(new MessageEnvelope('abcd').encode(Buffer.from('x'), false))).not.toBeNull();
    expect(a.decodeForeign(new MessageEnvelope('ab').encode(Buffer.from('cx'), false))).not.toBeNull();
  });

  it('rejects what is not an envelope', () => {
    const a = new MessageEnvelope('a');
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
    expect(() => new MessageEnvelope('')).toThrow(RangeError);
    expect(() => new MessageEnvelope('x'.repeat(256))).toThrow(RangeError);
    expect(() => new MessageEnvelope('x'.repeat(255))).not.toThrow();
  });
});

describe('BrokerOutbox', () => {
  const msg = (channel: string, bytes: number) => ({ channel, message: Buffer.alloc(bytes) });

  it('keeps messages in order until a count bound', () => {
    const box = new BrokerOutbox<{ channel: string; message: Buffer }>(3, 1000);
    expect([box.push(msg('a', 1)), box.push(msg('b', 1)), box.push(msg('a', 1)), box.push(msg('c', 1))]).toEqual([true, true, true, false]);
    expect(box.size).toBe(3);
    expect(box.items.map((p) => p.channel)).toEqual(['a', 'b', 'a']);
    expect(box.takeAll().map((p) => p.channel)).toEqual(['a', 'b', 'a']);
    expect([box.size, box.bytes]).toEqual([0, 0]);
  });

  it('or a byte bound, whichever comes first; a refused message leaves room for smaller ones', () => {
    const box = new BrokerOutbox<{ channel: string; message: Buffer }>(100, 10);
    expect(box.push(msg('a', 6))).toBe(true);
    expect(box.push(msg('b', 5))).toBe(false);
    expect(box.push(msg('c', 4))).toBe(true);
    expect(box.bytes).toBe(10);
    expect(new BrokerOutbox<{ channel: string; message: Buffer }>(100, 10).push(msg('big', 11))).toBe(false);
  });
});

describe('resolveBrokerBuffer', () => {
  it('applies the defaults: 1,000 messages, 8 MiB, 5 s', () => {
    expect(resolveBrokerBuffer(undefined)).toEqual({ maxBufferedMessages: 1000, maxBufferedBytes: 8 << 20, recoveryTimeoutMs: 5000 });
    expect(resolveBrokerBuffer({ recoveryTimeout: 0 }).recoveryTimeoutMs).toBe(0);
  });

  it('refuses bounds that are not positive integers and timeouts setTimeout cannot wait', () => {
    for (const bad of [{ maxBufferedMessages: 0 }, { maxBufferedBytes: 1.5 }, { recoveryTimeout: -1 }, { recoveryTimeout: 3e6 }]) {
      expect(() => resolveBrokerBuffer(bad)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOption }));
    }
  });
});

describe('DroppedMessageError', () => {
  it('is a WebSocketError with ERR_BROKER_UNAVAILABLE, the topic and the count', () => {
    const err = new DroppedMessageError('news', 3, 'dropped');
    expect(err).toBeInstanceOf(WebSocketError);
    expect([err.code, err.topic, err.count]).toEqual([ErrorCode.BrokerUnavailable, 'news', 3]);
  });
});

describe('brokerOutage and checkTopicEncodable', () => {
  it('an outage names the server, the cause and the buffer bounds, with ERR_BROKER_UNAVAILABLE', () => {
    const cause = new Error('ECONNREFUSED');
    const err = brokerOutage('NATS', cause, resolveBrokerBuffer({ maxBufferedMessages: 7, maxBufferedBytes: 99 }));
    expect([err.code, err.cause]).toEqual([ErrorCode.BrokerUnavailable, cause]);
    expect(err.message).toBe(
      'cannot reach NATS (ECONNREFUSED): reconnecting; publishes are buffered meanwhile, up to 7 messages or 99 bytes',
    );
  });

  it('refuses topics with unpaired surrogates and takes every well-formed one', () => {
    for (const bad of ['\uD800', 'a\uDC00b', '\uDBFFx'])
      expect(() => checkTopicEncodable(bad, 'Redis')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidTopic }));
    for (const good of ['', 'a.b', '😀', '\uD83D\uDE00', 'x'.repeat(300)]) expect(() => checkTopicEncodable(good, 'Redis')).not.toThrow();
  });
});
