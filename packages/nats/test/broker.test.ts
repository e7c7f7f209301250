/**
 * NatsBroker against one real nats-server: hubs in this process, each on its own broker and
 * connection.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, type WebSocketError } from '@wsup/core';
import { connect } from '@nats-io/transport-node';
import { DroppedMessageError, NatsBroker, type NatsBrokerOptions } from '@wsup/nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/eventually.js';
import { NatsServer } from './helpers/nats-server.js';
import { connected, node, type TestNode } from './helpers/nodes.js';

let nats: NatsServer;
const nodes: TestNode[] = [];
const cleanup: (() => unknown)[] = [];

beforeAll(async () => {
  nats = await NatsServer.start();
});

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.hub.close()));
  for (const f of cleanup.splice(0).reverse()) await f();
});

afterAll(async () => {
  await nats?.stop();
});

async function hubs(count: number, options?: NatsBrokerOptions): Promise<TestNode[]> {
  const made = Array.from({ length: count }, () => node(nats.url, options));
  nodes.push(...made);
  await Promise.all(made.map((n) => connected(n.broker)));
  return made;
}

/** A broker attached by hand (no hub), recording deliveries. */
function bareBroker(options: NatsBrokerOptions = {}): { broker: NatsBroker; got: [string, string, boolean][]; errors: WebSocketError[] } {
  const broker = new NatsBroker({ servers: nats.url, ...options });
  const got: [string, string, boolean][] = [];
  const errors: WebSocketError[] = [];
  broker.attach(
    randomBytes(8).toString('hex'),
    (t, p, b) => got.push([t, b ? p.toString('hex') : p.toString(), b]),
    (e) => errors.push(e),
  );
  cleanup.push(() => broker.close());
  return { broker, got, errors };
}

describe('NatsBroker', () => {
  it('delivers to every other subscribed hub exactly once, in the publisher order, never back to the publisher', async () => {
    const [x, y, z, w] = await hubs(4);
    const [sx, sy, sz] = [x!.sub('news'), y!.sub('news'), z!.sub('news')];
    w!.sub('other');
    // x's own subscription plus y's and z's.
    await eventually(() => nats.interest(x!.broker.subjectOf('news'))).toBe(3);
    const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
    for (const m of sent) x!.hub.publish('news', m);
    await eventually(() => [sy.messages.length, sz.messages.length]).toEqual([200, 200]);
    expect(sy.messages).toEqual(sent);
    expect(sz.messages).toEqual(sent);
    // Local delivery only, once: noEcho kept x's own messages from coming back.
    expect(sx.messages).toEqual(sent);
    // A round trip through y shows nothing else is on its way to x or w.
    y!.hub.publish('news', 'last');
    await eventually(() => sx.messages.at(-1)).toBe('last');
    expect(sx.messages).toHaveLength(201);
    expect(sy.messages).toHaveLength(201);
    expect(sz.messages).toEqual([...sent, 'last']);
    // w never subscribed to the subject (the interest count above), so NATS sent it nothing.
    expect(x!.errors.concat(y!.errors, z!.errors, w!.errors)).toEqual([]);
  });

  it('carries any topic name as one literal subject token: dots, wildcards, spaces, control characters and emoji round-trip and do not cross', async () => {
    const topics = [
      'a.b',
      'a.*',
      'a.>',
      '>',
      '*',
      'a',
      'A',
      'a b',
      ' ',
      'tab\there',
      'nl\r\n',
      'nul\u0000',
      'emoji 🎉',
      'ünïcödé',
      '中文.主题',
      '..',
      'x'.repeat(256),
    ];
    const [x, y] = await hubs(2);
    const subs = topics.map((t) => y!.sub(t));
    for (const t of topics) expect(x!.broker.subjectOf(t)).toMatch(/^wsup\.t\.[A-Za-z0-9_-]+$/);
    expect(new Set(topics.map((t) => x!.broker.subjectOf(t))).size).toBe(topics.length);
    await eventually(async () => (await Promise.all(topics.map((t) => nats.interest(x!.broker.subjectOf(t))))).every((n) => n === 1)).toBe(
      true,
    );
    for (const t of topics) x!.hub.publish(t, `to ${t}`);
    await eventually(() => subs.map((s) => s.messages)).toEqual(topics.map((t) => [`to ${t}`]));
  });

  it('passes binary payloads byte for byte and keeps the text/binary flag', async () => {
    const [x, y] = await hubs(2);
    const s = y!.sub('bytes');
    await eventually(() => nats.interest(x!.broker.subjectOf('bytes'))).toBe(1);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const big = randomBytes(256 * 1024);
    x!.hub.publish('bytes', all);
    x!.hub.publish('bytes', Buffer.alloc(0));
    x!.hub.publish('bytes', big);
    x!.hub.publish('bytes', Buffer.from('not text', 'utf8'), false);
    x!.hub.publish('bytes', '{"json":true}', true);
    await eventually(() => s.messages.length).toBe(5);
    expect(s.messages).toEqual([
      `bin:${all.toString('hex')}`,
      'bin:',
      `bin:${big.toString('hex')}`,
      'not text',
      `bin:${Buffer.from('{"json":true}').toString('hex')}`,
    ]);
  });

  it('subscribe() resolves once the server has the subscription: a publish right after it is delivered', async () => {
    const a = bareBroker();
    const b = bareBroker();
    await Promise.all([connected(a.broker), connected(b.broker)]);
    for (let i = 0; i < 20; i++) {
      await b.broker.subscribe(`ack-${i}`);
      a.broker.publish(`ack-${i}`, Buffer.from(`m${i}`), false);
    }
    await eventually(() => b.got.length).toBe(20);
    expect(b.got).toEqual(Array.from({ length: 20 }, (_, i) => [`ack-${i}`, `m${i}`, false]));
    // Called before the first connection, it resolves once connected and subscribed.
    const c = bareBroker();
    await c.broker.subscribe('early');
    a.broker.publish('early', Buffer.from('hi'), false);
    await eventually(() => c.got).toEqual([['early', 'hi', false]]);
  });

  it('unsubscribes when the last local subscriber leaves', async () => {
    const [x, y] = await hubs(2);
    const s = y!.sub('leave');
    const subject = x!.broker.subjectOf('leave');
    await eventually(() => nats.interest(subject)).toBe(1);
    y!.hub.unsubscribeAll(s);
    await eventually(() => nats.interest(subject)).toBe(0);
    const again = y!.sub('leave');
    await eventually(() => nats.interest(subject)).toBe(1);
    x!.hub.publish('leave', 'back');
    await eventually(() => again.messages).toEqual(['back']);
    expect(s.messages).toEqual([]);
  });

  it('hubs with different prefixes do not hear each other', async () => {
    const [x, y] = await hubs(2, { prefix: 'app1' });
    const [z] = await hubs(1, { prefix: 'app2.v1' });
    const [sy, sz] = [y!.sub('news'), z!.sub('news')];
    await eventually(() => nats.interest('app1.t.bmV3cw')).toBe(1);
    await eventually(() => nats.interest('app2.v1.t.bmV3cw')).toBe(1);
    x!.hub.publish('news', 'for app1');
    await eventually(() => sy.messages).toEqual(['for app1']);
    // Had z heard x, x's message would have come before this one from z's own prefix.
    const [w] = await hubs(1, { prefix: 'app2.v1' });
    w!.hub.publish('news', 'for app2');
    await eventually(() => sz.messages).toEqual(['for app2']);
  });

  it('ignores messages on its subjects that are not from a wsup broker', async () => {
    const [x, y] = await hubs(2);
    const s = y!.sub('foreign');
    const subject = x!.broker.subjectOf('foreign');
    await eventually(() => nats.interest(subject)).toBe(1);
    const other = await connect({ servers: nats.url });
    cleanup.push(() => other.close());
    for (const junk of [
      'hello',
      Buffer.from([1]),
      Buffer.from([1, 0, 5, 0x61]),
      Buffer.from([2, 0, 1, 0x61, 0x62]),
      Buffer.from([1, 0, 0, 0x61]),
    ]) {
      other.publish(subject, junk);
      other.publish('wsup.c.presence', junk);
    }
    await other.flush();
    x!.hub.publish('foreign', 'real');
    await eventually(() => s.messages).toEqual(['real']);
  });

  it('keeps topics NATS cannot carry local, with typed hub errors', async () => {
    const [x] = await hubs(1);
    const local = x!.sub('bad\uD800topic');
    expect(x!.hub.publish('bad\uD800topic', 'x')).toBe(1);
    expect(local.messages).toEqual(['x']);
    expect(x!.errors.map((e) => e.code)).toEqual([ErrorCode.InvalidTopic, ErrorCode.InvalidTopic]);
    x!.hub.publish('fine \uD834\uDD1E topic', 'x');
    expect(x!.errors).toHaveLength(2);
    expect(() => x!.broker.subjectOf('€'.repeat(1000))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_TOPIC' }));
  });

  it('reports a message larger than the server takes as a DroppedMessageError', async () => {
    const [x, y] = await hubs(2);
    const s = y!.sub('huge');
    await eventually(() => nats.interest(x!.broker.subjectOf('huge'))).toBe(1);
    x!.hub.publish('huge', Buffer.alloc(2 * 1024 * 1024));
    expect(x!.errors).toHaveLength(1);
    expect(x!.errors[0]).toBeInstanceOf(DroppedMessageError);
    expect(x!.errors[0]).toMatchObject({ code: 'ERR_BROKER_UNAVAILABLE', topic: 'huge', count: 1 });
    x!.hub.publish('huge', 'small');
    await eventually(() => s.messages).toEqual(['small']);
  });

  it('close() closes the connection and reports messages still buffered', async () => {
    const [x] = await hubs(1);
    await eventually(() => nats.connections()).toBeGreaterThanOrEqual(1);
    const before = await nats.connections();
    await x!.hub.close();
    expect(x!.broker.connected).toBe(false);
    await eventually(() => nats.connections()).toBe(before - 1);

    // Never connected (nothing listens there): closing drops what waits, and says so.
    const cut = node('nats://127.0.0.1:1');
    cut.hub.publish('t', 'one');
    cut.hub.publish('t', 'two');
    expect(cut.broker.bufferedMessages).toBe(2);
    await cut.hub.close();
    const dropped = cut.errors.filter((e) => e instanceof DroppedMessageError);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatchObject({ code: 'ERR_BROKER_UNAVAILABLE', topic: 't', count: 2 });
  });

  it('serves one hub', async () => {
    const { broker } = bareBroker();
    expect(() =>
      broker.attach(
        'again',
        () => undefined,
        () => undefined,
      ),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });

  it('rejects bad options with typed errors', () => {
    const bad: unknown[] = [
      'nats://x',
      { prefix: 42 },
      { prefix: '' },
      { prefix: 'a.*' },
      { prefix: 'a.>' },
      { prefix: 'a..b' },
      { prefix: 'a b' },
      { prefix: 'a.' },
      { maxBufferedMessages: 0 },
      { maxBufferedMessages: 1.5 },
      { maxBufferedBytes: -1 },
      { recoveryTimeout: -1 },
      { recoveryTimeout: Number.NaN },
      { servers: 42 },
      { servers: [] },
      { connection: 42 },
    ];
    for (const options of bad) {
      expect(() => new NatsBroker(options as NatsBrokerOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_OPTION' }),
      );
    }
  });
});
