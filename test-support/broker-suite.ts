/**
 * The behaviour every {@link Broker} must show under real hubs, servers and WebSocket clients,
 * run from each broker's own test file:
 *
 * ```ts
 * let redis: RedisServer;
 * brokerSuite('Redis standalone', {
 *   setup: async () => void (redis = await RedisServer.start()),
 *   teardown: () => redis.stop(),
 *   broker: () => new RedisBroker({ connection: redis.url, maxBufferedMessages: 50 }),
 *   ready: async (b) => void ((b as RedisBroker).connected || (await once(b as RedisBroker, 'connected'))),
 *   outage: { start: () => redis.kill(), end: () => redis.restart(), bound: 50 },
 *   capabilities: { crossProcess: true },
 * });
 * ```
 *
 * (packages/redis/test/broker-suite.test.ts is the full version; packages/core/test/topics/
 * broker-suite.test.ts the smallest, over an `InMemoryBus`.)
 *
 * A peer ({@link BrokerPeer}) must provide:
 *
 * - `broker()`: a new, unattached broker for one node of one deployment (every broker it returns
 *   reaches the others). The suite gives it to a `Hub` of its own, wrapped to observe it (deliver
 *   callbacks per topic, subscribe promises), and closes it through `hub.close()` after each case.
 * - `propagated(broker, topic)` (optional): for clusters that learn of subscriptions
 *   asynchronously, resolves once every server routes the topic to that broker.
 * - `ready(broker)` (optional): resolves once that broker, attached to its hub, is connected, so
 *   that subscriptions are acknowledged and publishes go out at once. Called when a node starts
 *   and after an outage ends.
 * - `outage` (optional; without it the outage case is skipped): `start()` makes the deployment
 *   unreachable to every node (the suite then waits for each hub's `ERR_BROKER_UNAVAILABLE`
 *   error), `end()` makes it reachable again (the suite then awaits `ready` for every node), and
 *   `bound`: how many messages a broker keeps while unreachable (the peer configures its brokers
 *   with it); publishes past it must be dropped, each reported as a hub `error` with code
 *   `ERR_BROKER_UNAVAILABLE` and the message's `topic` (as `DroppedMessageError` does).
 *   Without `bound` every publish made during the outage must arrive once it is over.
 * - `setup()` / `teardown()` (optional): start and stop the deployment, before the first case
 *   and after the last.
 *
 * Every node is an in-process `node:http` server on 127.0.0.1 and an ephemeral port, with
 * `handleUpgrades(server, { hub })` and one route: `/?sub=a&sub=b&pub=c&id=x` subscribes the
 * connection to topics a and b, publishes (`hub.publish`) every message it sends to topic c, and
 * registers the server-side WebSocket as x. Clients are `@wsup/core`'s `connect`.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  ErrorCode,
  type Broker,
  handleUpgrades,
  Hub,
  type Message,
  type UpgradeRouter,
  upgrade,
  type WebSocket,
  type WebSocketError,
} from '@wsup/core';

export interface BrokerPeer {
  /** A new broker for one node (hub) of the deployment under test. */
  broker(): Broker | Promise<Broker>;
  /** Resolves once `broker`, attached to its hub, is connected. Default: at once. */
  ready?(broker: Broker): Promise<void>;
  /**
   * Resolves once every server of the deployment routes `topic` to `broker`, after its subscribe
   * has resolved: for clusters whose members learn of a subscription asynchronously (NATS routes
   * interest after the subscribing client's own server has acknowledged it).
   */
  propagated?(broker: Broker, topic: string): Promise<void>;
  /** How to make the deployment unreachable and back; the outage case is skipped without it. */
  outage?: BrokerOutage;
  /** Starts the deployment, before the first case. */
  setup?(): Promise<void>;
  /** Stops the deployment, after the last case (every node is closed by then). */
  teardown?(): Promise<void>;
  capabilities?: BrokerCapabilities;
}

export interface BrokerOutage {
  /** Makes the deployment unreachable to every node. */
  start(): Promise<void>;
  /** Makes it reachable again (the suite then awaits `ready` for every node). */
  end(): Promise<void>;
  /**
   * Messages a broker keeps while unreachable and sends, in order, once it is back; each publish
   * past it is dropped and reported as a hub error (`ERR_BROKER_UNAVAILABLE`, with `topic`).
   * Without it, every publish made during the outage must arrive afterwards.
   */
  bound?: number;
}

export interface BrokerCapabilities {
  /** Messages leave the process (a network service), so hubs in other processes would get them too. */
  crossProcess?: boolean;
}

/** Waits for a condition with room for a loaded machine (15 s unless told otherwise). */
function eventually<T>(fn: () => T | Promise<T>, timeout = 15_000): ReturnType<typeof expect.poll<T>> {
  return expect.poll(fn, { timeout, interval: 20 });
}

/** `promise`, or a failure naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type Deliver = (topic: string, payload: Buffer, binary: boolean) => void;

/** Passes everything to `inner`, counting the deliver callbacks per topic and keeping subscribe's promises. */
class ObservedBroker implements Broker {
  private readonly delivered = new Map<string, number>();
  private readonly acks = new Map<string, Promise<void>[]>();

  constructor(
    readonly inner: Broker,
    private readonly propagated?: (broker: Broker, topic: string) => Promise<void>,
  ) {}

  attach(nodeId: string, deliver: Deliver, onError: (err: WebSocketError) => void): void {
    this.inner.attach(
      nodeId,
      (topic, payload, binary) => {
        this.delivered.set(topic, (this.delivered.get(topic) ?? 0) + 1);
        deliver(topic, payload, binary);
      },
      onError,
    );
  }

  subscribe(topic: string): void | Promise<void> {
    let result: void | Promise<void>;
    let ack: Promise<void>;
    try {
      result = this.inner.subscribe(topic);
      ack = Promise.resolve(result);
    } catch (err) {
      ack = Promise.reject(err);
      // The hub reports it; a case that awaits the ack sees it too.
      ack.catch(() => undefined);
      this.record(topic, ack);
      throw err;
    }
    this.record(topic, ack);
    return result;
  }

  unsubscribe(topic: string): void | Promise<void> {
    return this.inner.unsubscribe(topic);
  }

  publish(topic: string, payload: Buffer, binary: boolean): void | Promise<void> {
    return this.inner.publish(topic, payload, binary);
  }

  close(): void | Promise<void> {
    return this.inner.close();
  }

  /** How many times the broker called the hub's deliver callback for `topic`. */
  deliveries(topic: string): number {
    return this.delivered.get(topic) ?? 0;
  }

  /** How many times the hub asked the broker to subscribe to `topic`. */
  subscribeCalls(topic: string): number {
    return this.acks.get(topic)?.length ?? 0;
  }

  /** Waits until the hub has asked for its `nth` subscription to `topic`, then until the broker acknowledged it. */
  async acked(topic: string, nth = 1): Promise<void> {
    await eventually(() => this.subscribeCalls(topic) >= nth).toBe(true);
    await within(this.acks.get(topic)![nth - 1]!, 20_000, `the broker's subscription to '${topic}'`);
    if (this.propagated) await within(this.propagated(this.inner, topic), 20_000, `'${topic}' to reach every server`);
  }

  private record(topic: string, ack: Promise<void>): void {
    let list = this.acks.get(topic);
    if (!list) this.acks.set(topic, (list = []));
    list.push(ack);
  }
}

/** A WebSocket client and what it received: text as is, binary as `bin:<hex>`. */
export interface Inbox {
  ws: WebSocket;
  messages: string[];
}

/** Text as is, binary as `bin:<hex>` (a long one as `bin:<length>:<sha256>`, to keep failures readable). */
function describeMessage(m: Message): string {
  return m.binary ? describeBytes(m.data) : m.data;
}

function describeBytes(data: Uint8Array): string {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length <= 1024) return `bin:${bytes.toString('hex')}`;
  return `bin:${bytes.length}:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** One node: a hub on one of the peer's brokers, behind a WebSocket server. */
class SuiteNode {
  readonly errors: WebSocketError[] = [];
  /** Server-side WebSockets by the `id` of their URL. */
  readonly conns = new Map<string, WebSocket>();
  private readonly clients: WebSocket[] = [];
  private port = 0;

  private constructor(
    readonly name: string,
    readonly hub: Hub,
    readonly broker: ObservedBroker,
    private readonly server: Server,
    private readonly router: UpgradeRouter,
  ) {
    hub.on('error', (err) => this.errors.push(err));
  }

  static async start(name: string, peer: BrokerPeer): Promise<SuiteNode> {
    const raw = await peer.broker();
    const broker = new ObservedBroker(raw, peer.propagated?.bind(peer));
    const hub = new Hub({ broker });
    let node: SuiteNode | undefined;
    const server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://node');
      const ws = upgrade(req, res);
      ws.on('error', () => undefined);
      const id = url.searchParams.get('id');
      if (id) node!.conns.set(id, ws);
      for (const topic of url.searchParams.getAll('sub')) ws.subscribe(topic);
      const pub = url.searchParams.get('pub');
      if (pub) ws.on('message', (m) => hub.publish(pub, m.data, m.binary));
    });
    const router = handleUpgrades(server, { hub });
    node = new SuiteNode(name, hub, broker, server, router);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    node.port = (server.address() as AddressInfo).port;
    await node.ready(peer);
    return node;
  }

  /** Waits for the peer's `ready` (the broker is connected). */
  async ready(peer: BrokerPeer): Promise<void> {
    if (peer.ready) await within(peer.ready(this.broker.inner), 20_000, `node ${this.name}'s broker to be ready`);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** A client subscribed to `topics`, its server-side WebSocket registered as `id`. */
  async subscriber(topics: string[], id = ''): Promise<Inbox> {
    const query = [...topics.map((t) => `sub=${encodeURIComponent(t)}`), `id=${encodeURIComponent(id)}`].join('&');
    const ws = await connect(`${this.url}/?${query}`);
    ws.on('error', () => undefined);
    this.clients.push(ws);
    const inbox: Inbox = { ws, messages: [] };
    ws.on('message', (m) => inbox.messages.push(describeMessage(m)));
    return inbox;
  }

  /** A client whose every message the node publishes to `topic`. */
  async publisher(topic: string): Promise<WebSocket> {
    const ws = await connect(`${this.url}/?pub=${encodeURIComponent(topic)}`);
    ws.on('error', () => undefined);
    this.clients.push(ws);
    return ws;
  }

  /** Hub errors with code `ERR_BROKER_UNAVAILABLE`. */
  unavailable(): WebSocketError[] {
    return this.errors.filter((e) => e.code === ErrorCode.BrokerUnavailable);
  }

  async close(): Promise<void> {
    for (const ws of this.clients) ws.terminate();
    for (const ws of this.router.clients) ws.terminate();
    this.server.close();
    await within(this.hub.close(), 10_000, `node ${this.name}'s hub to close`);
  }
}

const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Runs the shared broker behaviour suite against the deployment `peer` describes. */
export function brokerSuite(name: string, peer: BrokerPeer): void {
  describe(`${name}: shared broker behaviour`, () => {
    let nodes: SuiteNode[] = [];

    /** `n` new nodes on the deployment, closed after the case. */
    async function cluster(n: number): Promise<SuiteNode[]> {
      const started = await Promise.all(Array.from({ length: n }, (_, i) => SuiteNode.start(String.fromCharCode(65 + i), peer)));
      nodes.push(...started);
      return started;
    }

    beforeAll(async () => {
      await peer.setup?.();
    }, 60_000);
    afterEach(async () => {
      const closing = nodes;
      nodes = [];
      await Promise.all(closing.map((n) => n.close()));
    }, 30_000);
    afterAll(async () => {
      await peer.teardown?.();
    }, 30_000);

    it('delivers every message to every subscriber on every node exactly once (several topics and publishers)', async () => {
      const [a, b, c] = (await cluster(3)) as [SuiteNode, SuiteNode, SuiteNode];
      const [news, chat, misc] = ['fanout/news', 'fanout/chat', 'fanout/misc'];
      const subs: [Inbox, string[]][] = [];
      const sub = async (node: SuiteNode, topics: string[]): Promise<void> => {
        subs.push([await node.subscriber(topics), topics]);
      };
      await sub(a, [news]);
      await sub(a, [chat, misc]);
      await sub(b, [news, chat]);
      await sub(b, [misc]);
      await sub(c, [news]);
      await sub(c, [chat]);
      await sub(c, [news, chat, misc]);
      for (const node of [a, b, c]) for (const t of [news, chat, misc]) await node.broker.acked(t);

      const publishers: [SuiteNode, string, string][] = [
        [a, news, 'a-news'],
        [b, news, 'b-news'],
        [c, chat, 'c-chat'],
        [a, misc, 'a-misc'],
        [b, chat, 'b-chat'],
      ];
      const sent = new Map<string, string[]>([
        [news, []],
        [chat, []],
        [misc, []],
      ]);
      const clients = await Promise.all(publishers.map(([node, topic]) => node.publisher(topic)));
      for (let i = 0; i < 20; i++) {
        publishers.forEach(([, topic, label], p) => {
          clients[p]!.send(`${label}:${i}`);
          sent.get(topic)!.push(`${label}:${i}`);
        });
      }

      for (const [inbox, topics] of subs) {
        const expected = topics.flatMap((t) => sent.get(t)!).sort();
        await eventually(() => inbox.messages.length).toBeGreaterThanOrEqual(expected.length);
        expect([...inbox.messages].sort()).toEqual(expected);
      }
      // Each node got each other node's message once, however many local subscribers it has.
      for (const node of [a, b, c]) {
        for (const topic of [news, chat, misc]) {
          const fromOthers = publishers.filter(([from, t]) => t === topic && from !== node).length * 20;
          expect(node.broker.deliveries(topic), `deliveries of ${topic} to node ${node.name}`).toBe(fromOthers);
        }
        expect(node.errors).toEqual([]);
      }
    }, 45_000);

    it("keeps each publisher's order on a topic, however publishers interleave", async () => {
      const all = await cluster(3);
      const topic = 'order';
      const PER_PUBLISHER = 300;
      const inboxes = (await Promise.all(all.map((n) => Promise.all([n.subscriber([topic]), n.subscriber([topic])])))).flat();
      for (const node of all) await node.broker.acked(topic);
      const publishers = await Promise.all(all.map((n) => n.publisher(topic)));
      for (let i = 0; i < PER_PUBLISHER; i++) {
        for (const [n, p] of publishers.entries()) p.send(`${n}:${i}`);
      }

      for (const inbox of inboxes) {
        await eventually(() => inbox.messages.length).toBeGreaterThanOrEqual(PER_PUBLISHER * publishers.length);
        expect(inbox.messages).toHaveLength(PER_PUBLISHER * publishers.length);
        publishers.forEach((_, n) => {
          const seen = inbox.messages.filter((m) => m.startsWith(`${n}:`));
          expect(seen).toEqual(range(`${n}:`, PER_PUBLISHER));
        });
      }
      for (const node of all) expect(node.errors).toEqual([]);
    }, 45_000);

    // The hub's subscribe() returns nothing to await; the broker's subscribe() returns (or is)
    // the acknowledgement, which the suite observes by wrapping the broker.
    it("delivers a publish from another node made as soon as the broker's subscribe has resolved", async () => {
      const [a, b, c] = (await cluster(3)) as [SuiteNode, SuiteNode, SuiteNode];
      const first = await b.subscriber(['ack/fresh']);
      await b.broker.acked('ack/fresh');
      a.hub.publish('ack/fresh', 'first');
      await eventually(() => first.messages).toEqual(['first']);

      // A second node joining an existing topic; the first still gets everything once.
      const second = await c.subscriber(['ack/fresh']);
      await c.broker.acked('ack/fresh');
      a.hub.publish('ack/fresh', 'second');
      await eventually(() => second.messages).toEqual(['second']);
      await eventually(() => first.messages).toEqual(['first', 'second']);
      for (const node of [a, b, c]) expect(node.errors).toEqual([]);
    });

    it('does not deliver to nodes without local subscribers', async () => {
      const [a, b, c] = (await cluster(3)) as [SuiteNode, SuiteNode, SuiteNode];
      const onB = await Promise.all([b.subscriber(['only-b']), b.subscriber(['only-b'])]);
      const onC = await c.subscriber(['elsewhere']);
      await b.broker.acked('only-b');
      await c.broker.acked('elsewhere');
      const p = await a.publisher('only-b');
      const messages = range('m', 50);
      // From node A's hub directly, then through one of its connections (so after that one).
      a.hub.publish('only-b', 'direct');
      for (const m of messages) p.send(m);
      for (const inbox of onB) await eventually(() => inbox.messages).toEqual(['direct', ...messages]);
      // A message on a topic node C does subscribe to, published after: had C been sent any of
      // the others it would most likely have come first.
      a.hub.publish('elsewhere', 'marker');
      await eventually(() => onC.messages).toEqual(['marker']);

      expect(b.broker.deliveries('only-b')).toBe(messages.length + 1);
      expect(a.broker.deliveries('only-b')).toBe(0);
      expect(c.broker.deliveries('only-b')).toBe(0);
      expect(a.broker.subscribeCalls('only-b')).toBe(0);
      expect(c.broker.subscribeCalls('only-b')).toBe(0);
      for (const node of [a, b, c]) expect(node.errors).toEqual([]);
    });

    it('carries binary payloads byte for byte and keeps text as text', async () => {
      const [a, b, c] = (await cluster(3)) as [SuiteNode, SuiteNode, SuiteNode];
      const inboxes = await Promise.all([a, b, c].map((n) => n.subscriber(['bytes'])));
      for (const node of [a, b, c]) await node.broker.acked('bytes');
      const p = await a.publisher('bytes');
      const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const large = Buffer.alloc(256 * 1024);
      for (let i = 0; i < large.length; i++) large[i] = (i * 7919) % 251;
      p.send(every);
      p.send(Buffer.alloc(0));
      p.send('');
      p.send('héllo ✓ 𝄞');
      p.send(Buffer.from('looks like text'));
      p.send('{"json":true}');
      p.send(large);
      const fromClient = [
        describeBytes(every),
        'bin:',
        '',
        'héllo ✓ 𝄞',
        describeBytes(Buffer.from('looks like text')),
        '{"json":true}',
        describeBytes(large),
      ];
      for (const inbox of inboxes) await eventually(() => inbox.messages).toEqual(fromClient);
      // Straight from the hubs: a Uint8Array, a string sent as binary, and from another node.
      a.hub.publish('bytes', new Uint8Array([0, 1, 2]));
      a.hub.publish('bytes', 'text sent as binary', true);
      b.hub.publish('bytes', 'ünïcode from B');
      const fromHubs = ['bin:000102', describeBytes(Buffer.from('text sent as binary')), 'ünïcode from B'];
      for (const inbox of inboxes) await eventually(() => inbox.messages.slice(fromClient.length).sort()).toEqual([...fromHubs].sort());
      for (const inbox of inboxes) {
        // A's two in A's order.
        expect(inbox.messages.filter((m) => m !== 'ünïcode from B')).toEqual([...fromClient, ...fromHubs.slice(0, 2)]);
      }
      for (const node of [a, b, c]) expect(node.errors).toEqual([]);
    });

    it('stops delivering to a node once its last local subscriber has left, and resumes when one subscribes again', async () => {
      const [a, b, c] = (await cluster(3)) as [SuiteNode, SuiteNode, SuiteNode];
      const leaving = await b.subscriber(['unsub'], 'leaving');
      const staying = await c.subscriber(['unsub']);
      await b.broker.acked('unsub');
      await c.broker.acked('unsub');
      a.hub.publish('unsub', 'before');
      await eventually(() => [leaving.messages, staying.messages]).toEqual([['before'], ['before']]);

      b.conns.get('leaving')!.unsubscribe('unsub');
      const after = range('after-', 10);
      for (const m of after) a.hub.publish('unsub', m);
      await eventually(() => staying.messages).toEqual(['before', ...after]);
      expect(leaving.messages).toEqual(['before']);

      // The broker may take a moment to stop delivering to node B (an unsubscribe is not
      // acknowledged): probe until a message no longer reaches B, then nothing more may.
      let probes = 0;
      for (;;) {
        const before = b.broker.deliveries('unsub');
        a.hub.publish('unsub', `probe-${probes}`);
        await eventually(() => staying.messages.at(-1)).toBe(`probe-${probes}`);
        probes++;
        if (b.broker.deliveries('unsub') === before) break;
        expect(probes, 'probes still reaching node B after it unsubscribed').toBeLessThan(50);
      }
      const stopped = b.broker.deliveries('unsub');
      const later = range('later-', 20);
      for (const m of later) a.hub.publish('unsub', m);
      await eventually(() => staying.messages.at(-1)).toBe('later-19');
      expect(b.broker.deliveries('unsub')).toBe(stopped);
      expect(leaving.messages).toEqual(['before']);

      b.conns.get('leaving')!.subscribe('unsub');
      await b.broker.acked('unsub', 2);
      a.hub.publish('unsub', 'again');
      await eventually(() => leaving.messages).toEqual(['before', 'again']);
      for (const node of [a, b, c]) expect(node.errors).toEqual([]);
    }, 45_000);

    const outage = peer.outage;
    it.skipIf(!outage)(
      `keeps delivering locally during an outage, then sends what was published meanwhile in order${outage?.bound ? ` up to ${outage.bound} messages` : ''}, never twice`,
      async () => {
        const { start, end, bound } = outage!;
        const during = bound ?? 20;
        const extra = bound ? 10 : 0;
        const [a, b, c] = (await cluster(3)) as [SuiteNode, SuiteNode, SuiteNode];
        const all = [a, b, c];
        const topic = 'outage';
        const [sa, sb, sc] = await Promise.all(all.map((n) => n.subscriber([topic])));
        for (const node of all) await node.broker.acked(topic);
        const [pa, pb, pc] = await Promise.all(all.map((n) => n.publisher(topic)));
        // Every publisher has published before the outage (a broker may use what its last
        // publish reached to know when the others are back).
        pa!.send('a:before');
        pb!.send('b:before');
        pc!.send('c:before');
        const before = ['a:before', 'b:before', 'c:before'];
        for (const s of [sa, sb, sc]) await eventually(() => [...s!.messages].sort()).toEqual(before);

        await within(start(), 20_000, 'the outage to start');
        for (const node of all) await eventually(() => node.unavailable().length, 20_000).toBeGreaterThanOrEqual(1);
        const aDuring = range('a:during-', during + extra);
        const bDuring = range('b:during-', 5);
        for (const m of aDuring) pa!.send(m);
        for (const m of bDuring) pb!.send(m);
        // Local delivery goes on while the broker is unreachable.
        await eventually(() => sa!.messages.filter((m) => m.startsWith('a:'))).toEqual(['a:before', ...aDuring]);
        await eventually(() => sb!.messages.filter((m) => m.startsWith('b:'))).toEqual(['b:before', ...bDuring]);
        if (extra > 0) {
          const dropped = (): number =>
            a.errors
              .filter((e) => (e as { topic?: string }).topic === topic)
              .reduce((n, e) => n + ((e as { count?: number }).count ?? 1), 0);
          await eventually(dropped).toBe(extra);
          for (const e of a.errors) expect(e.code).toBe(ErrorCode.BrokerUnavailable);
        }
        // A subscription made during the outage takes effect once the broker is back.
        const late = await c.subscriber(['outage/late']);

        await within(end(), 30_000, 'the outage to end');
        for (const node of all) await node.ready(peer);
        await c.broker.acked('outage/late');

        pa!.send('a:after');
        pb!.send('b:after');
        pc!.send('c:after');
        a.hub.publish('outage/late', 'late');
        const fromA = ['a:before', ...aDuring.slice(0, during), 'a:after'];
        const fromB = ['b:before', ...bDuring, 'b:after'];
        const fromC = ['c:before', 'c:after'];
        const only = (s: Inbox, p: string): string[] => s.messages.filter((m) => m.startsWith(p));
        // Each publisher's messages arrive in its order, those past the bound never, none twice:
        // the last one (published after the outage) coming last shows nothing is still on its way.
        const expected: [Inbox, string[], string[], string[]][] = [
          [sa!, ['a:before', ...aDuring, 'a:after'], fromB, fromC],
          [sb!, fromA, ['b:before', ...bDuring, 'b:after'], fromC],
          [sc!, fromA, fromB, fromC],
        ];
        for (const [s, ea, eb, ec] of expected) {
          await eventually(() => [only(s, 'a:'), only(s, 'b:'), only(s, 'c:')], 30_000).toEqual([ea, eb, ec]);
          expect(s.messages).toHaveLength(ea.length + eb.length + ec.length);
        }
        await eventually(() => late.messages).toEqual(['late']);
        // The nodes that dropped nothing reported the outage only.
        for (const node of [b, c]) {
          for (const e of node.errors) expect(e.code).toBe(ErrorCode.BrokerUnavailable);
          expect(node.errors.filter((e) => (e as { topic?: string }).topic !== undefined)).toEqual([]);
        }
      },
      120_000,
    );
  });
}
