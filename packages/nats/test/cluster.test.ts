/**
 * NatsBroker over a 3-server NATS cluster, each hub connected to a different member: delivery
 * across routes, and a member killed under its hub, which fails over to another member and
 * sends what it buffered meanwhile.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/eventually.js';
import { NatsServer } from './helpers/nats-server.js';
import { connected, node, type TestNode } from './helpers/nodes.js';

let members: NatsServer[];
let nodes: TestNode[];
let a: TestNode, b: TestNode, c: TestNode;

beforeAll(async () => {
  members = await NatsServer.cluster(3);
  // One hub per member; the client learns the other members from the cluster for failover.
  nodes = members.map((m) => node(m.url, { maxBufferedMessages: 30 }));
  [a, b, c] = nodes as [TestNode, TestNode, TestNode];
  await Promise.all(nodes.map((n) => connected(n.broker)));
}, 30_000);

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.hub.close()));
  await Promise.all((members ?? []).map((m) => m.stop()));
});

/** Waits until `server` routes `subject` to `count` subscriptions (interest crosses routes asynchronously). */
function interest(server: NatsServer, subject: string, count: number): Promise<void> {
  return eventually(() => server.interest(subject)).toBe(count) as Promise<void>;
}

describe('a 3-server NATS cluster, one hub per member', () => {
  it('delivers across members exactly once, in each publisher order, only to hubs with subscribers', async () => {
    const [sb, sc] = [b.sub('across'), c.sub('across')];
    const only = c.sub('only-c');
    const subject = a.broker.subjectOf('across');
    await interest(members[0]!, subject, 2);
    await interest(members[1]!, subject, 2);
    await interest(members[0]!, a.broker.subjectOf('only-c'), 1);
    const fromA = Array.from({ length: 100 }, (_, i) => `a${i}`);
    const fromB = Array.from({ length: 100 }, (_, i) => `b${i}`);
    for (let i = 0; i < 100; i++) {
      a.hub.publish('across', fromA[i]!);
      b.hub.publish('across', fromB[i]!);
    }
    a.hub.publish('only-c', 'just c');
    await eventually(() => sc.messages.length).toBe(200);
    await eventually(() => sb.messages.length).toBe(200);
    expect(sc.messages.filter((m) => m.startsWith('a'))).toEqual(fromA);
    expect(sc.messages.filter((m) => m.startsWith('b'))).toEqual(fromB);
    // b's own publishes reached b once (locally), a's once (over the cluster).
    expect(sb.messages.filter((m) => m.startsWith('a'))).toEqual(fromA);
    expect(sb.messages.filter((m) => m.startsWith('b'))).toEqual(fromB);
    await eventually(() => only.messages).toEqual(['just c']);
    // A round trip shows nothing more is on its way.
    c.hub.publish('across', 'end');
    await eventually(() => sb.messages.at(-1)).toBe('end');
    expect(sb.messages).toHaveLength(201);
    expect(sc.messages).toHaveLength(201);
    for (const n of nodes) expect(n.errors).toEqual([]);
  });

  it('a member killed under its hub: the hub fails over to another member and sends what it buffered, in order', async () => {
    const [sb, sc] = [b.sub('failover'), c.sub('failover')];
    const subject = a.broker.subjectOf('failover');
    await interest(members[0]!, subject, 2);
    a.hub.publish('failover', 'before');
    await eventually(() => [sb.messages, sc.messages]).toEqual([['before'], ['before']]);

    const gone = once(a.broker, 'disconnected');
    await members[0]!.kill();
    await gone;
    expect(a.errors.map((e) => e.code)).toEqual(['ERR_BROKER_UNAVAILABLE']);
    const back = once(a.broker, 'connected');
    const during = Array.from({ length: 20 }, (_, i) => `during ${i}`);
    for (const m of during) a.hub.publish('failover', m);
    await back;
    a.hub.publish('failover', 'after');
    const expected = ['before', ...during, 'after'];
    await eventually(() => [sb.messages, sc.messages]).toEqual([expected, expected]);
    // b and c never lost their members.
    expect(b.errors).toEqual([]);
    expect(c.errors).toEqual([]);
    expect(a.errors).toHaveLength(1);

    // The member comes back and rejoins the cluster; delivery still works through it.
    await members[0]!.restart();
    await members[0]!.awaitRoutes(2);
    const d = node(members[0]!.url);
    nodes.push(d);
    await connected(d.broker);
    const sd = d.sub('failover');
    await interest(members[1]!, subject, 3);
    b.hub.publish('failover', 'to d');
    await eventually(() => sd.messages).toEqual(['to d']);
  });
});
