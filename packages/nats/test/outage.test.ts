/**
 * nats-server killed and started again on the same port under hubs in this process: local
 * delivery goes on, each broker reports the outage once, buffers within its bounds (dropping the
 * rest with typed errors), and sends what it kept, in order, once the client has reconnected.
 */
import { once } from 'node:events';
import { DroppedMessageError } from '@wsup/nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/eventually.js';
import { NatsServer } from './helpers/nats-server.js';
import { connected, node, type TestNode } from './helpers/nodes.js';

let nats: NatsServer;
const nodes: TestNode[] = [];

beforeAll(async () => {
  nats = await NatsServer.start();
});

afterEach(async () => {
  if (!nats.running) await nats.restart();
  await Promise.all(nodes.splice(0).map((n) => n.hub.close()));
});

afterAll(async () => {
  await nats?.stop();
});

async function hubs(...options: Parameters<typeof node>[1][]): Promise<TestNode[]> {
  const made = options.map((o) => node(nats.url, o));
  nodes.push(...made);
  await Promise.all(made.map((n) => connected(n.broker)));
  return made;
}

/** Kills the server and waits until every broker has noticed. */
async function outage(...of: TestNode[]): Promise<void> {
  const gone = of.map((n) => once(n.broker, 'disconnected'));
  await nats.kill();
  await Promise.all(gone);
}

const unreachable = (n: TestNode) => n.errors.filter((e) => !(e instanceof DroppedMessageError));
const dropped = (n: TestNode) => n.errors.filter((e): e is DroppedMessageError => e instanceof DroppedMessageError);
const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('NATS restarted under the hubs', () => {
  it('buffers up to maxBufferedMessages, drops the rest with typed errors, then sends in order; one unavailability error per outage', async () => {
    const BOUND = 50;
    const [x, y, z] = await hubs({ maxBufferedMessages: BOUND }, {}, {});
    const [sx, sy, sz] = [x!.sub('live'), y!.sub('live'), z!.sub('live')];
    await eventually(() => nats.interest(x!.broker.subjectOf('live'))).toBe(3);
    x!.hub.publish('live', 'before');
    await eventually(() => [sy.messages, sz.messages]).toEqual([['before'], ['before']]);

    for (let round = 1; round <= 2; round++) {
      await outage(x!, y!, z!);
      for (const n of [x!, y!, z!]) {
        expect(unreachable(n)).toHaveLength(round);
        expect(unreachable(n)[round - 1]).toMatchObject({ code: 'ERR_BROKER_UNAVAILABLE' });
      }
      const during = range(`r${round}-`, BOUND + 10);
      for (const m of during) expect(x!.hub.publish('live', m)).toBe(1);
      expect(x!.broker.bufferedMessages).toBe(BOUND);
      expect(dropped(x!)).toHaveLength(10 * round);
      expect(dropped(x!).at(-1)).toMatchObject({ code: 'ERR_BROKER_UNAVAILABLE', topic: 'live', count: 1 });
      // Local delivery went on.
      expect(sx.messages.slice(-during.length)).toEqual(during);

      const back = [x!, y!, z!].map((n) => once(n.broker, 'connected'));
      await nats.restart();
      await Promise.all(back);
      expect(x!.broker.bufferedMessages).toBe(0);
      x!.hub.publish('live', `after ${round}`);
      // The first BOUND went out once NATS was back, the rest never did (had they, they would
      // come before 'after', published later by the same node).
      const expected = [...during.slice(0, BOUND), `after ${round}`];
      await eventually(() => [sy.messages.slice(-expected.length), sz.messages.slice(-expected.length)]).toEqual([expected, expected]);
      // Still one unavailability error per outage, whatever happened during it.
      expect(unreachable(x!)).toHaveLength(round);
    }
    expect(sy.messages).toHaveLength(1 + 2 * (BOUND + 1));
    expect(sy.messages).toEqual(sz.messages);
    // Publishing works again from every node, both ways.
    y!.hub.publish('live', 'from y');
    await eventually(() => [sx.messages.at(-1), sz.messages.at(-1)]).toEqual(['from y', 'from y']);
  });

  it('bounds the buffer by bytes too', async () => {
    const size = 1000;
    // Room for three messages of `size` bytes (each also carries a 19-byte header), not four.
    const [x, y] = await hubs({ maxBufferedBytes: 3 * (size + 19) + 10 }, {});
    const sy = y!.sub('bytes');
    await eventually(() => nats.interest(x!.broker.subjectOf('bytes'))).toBe(1);
    await outage(x!, y!);
    const payloads = ['a', 'b', 'c', 'd', 'e'].map((c) => c.repeat(size));
    for (const p of payloads) x!.hub.publish('bytes', p);
    expect(x!.broker.bufferedMessages).toBe(3);
    expect(dropped(x!)).toHaveLength(2);
    await nats.restart();
    await Promise.all([connected(x!.broker), connected(y!.broker)]);
    await eventually(() => sy.messages).toEqual(payloads.slice(0, 3));
  });

  it('with NATS down from the start: buffers, reports once, then subscribes and sends once NATS is up', async () => {
    await nats.kill();
    const x = node(nats.url);
    const y = node(nats.url);
    nodes.push(x, y);
    const sy = y.sub('late');
    x.hub.publish('late', 'waited');
    expect(x.broker.bufferedMessages).toBe(1);
    await eventually(() => [unreachable(x).length, unreachable(y).length]).toEqual([1, 1]);
    await nats.restart();
    await Promise.all([connected(x.broker), connected(y.broker)]);
    // 'waited' may or may not reach y: neither broker had ever heard of the other, so x had
    // nobody to wait for before sending it. What is published once both are up is delivered.
    x.hub.publish('late', 'then');
    await eventually(() => sy.messages.at(-1)).toBe('then');
    expect(x.errors).toHaveLength(1);
  });
});
