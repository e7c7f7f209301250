/** The pieces of the chat server that need no network: the memory rooms' bound, the broker tap, message order. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { injectUpgrade, upgrade, type Broker, type WebSocket } from '@wsup/core';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerTap } from '../src/broker-tap.js';
import { createMemoryRooms as createRooms } from '../src/memory-rooms.js';
import type { ChatMessage } from '../src/protocol.js';
import { newerThan } from '../src/redis-rooms.js';
import type { Member } from '../src/rooms.js';

describe('createRooms', () => {
  // Room delivery goes through the hub's topics, which frame a message once and queue the frame on
  // real server connections: members are server-side WebSockets over in-memory connections.
  const accepted: WebSocket[] = [];
  const route = (req: IncomingMessage, res: ServerResponse): void => void accepted.push(upgrade(req, res));
  const clients: WebSocket[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.terminate();
  });

  /** A member whose client end records the types of the messages it is sent. */
  async function member(name: string): Promise<Member & { received(count: number): Promise<string[]> }> {
    const client = await injectUpgrade(route, '/chat');
    clients.push(client);
    const received = async (count: number): Promise<string[]> => {
      const types: string[] = [];
      for (let i = 0; i < count; i++) types.push((JSON.parse((await client.receive(5))!.data as string) as { type: string }).type);
      return types;
    };
    return { ws: accepted.shift()!, name, received };
  }

  it('sends the joiner its snapshot before any later message of the room', async () => {
    const rooms = createRooms();
    const alice = await member('alice');
    await rooms.join('lobby', alice);
    await rooms.publish('lobby', alice, 'hi');
    expect(await alice.received(2)).toEqual(['joined', 'message']);
  });

  it('forgets the history of the least recently active empty rooms past maxIdleRooms', async () => {
    const rooms = createRooms({ maxIdleRooms: 2 });
    for (const room of ['a', 'b', 'c']) {
      const m = await member('alice');
      await rooms.join(room, m);
      await rooms.publish(room, m, `in ${room}`);
      await rooms.leave(room, m);
    }
    expect(await rooms.history('a')).toEqual([]);
    expect((await rooms.history('b')).map((m) => m.text)).toEqual(['in b']);
    expect((await rooms.history('c')).map((m) => m.text)).toEqual(['in c']);
  });

  it('keeps the history of a room while someone is in it, however many rooms go idle', async () => {
    const rooms = createRooms({ maxIdleRooms: 1 });
    const stayer = await member('stayer');
    await rooms.join('home', stayer);
    await rooms.publish('home', stayer, 'still here');
    for (const room of ['x', 'y', 'z']) {
      const m = await member('visitor');
      await rooms.join(room, m);
      await rooms.leave(room, m);
    }
    expect((await rooms.history('home')).map((m) => m.text)).toEqual(['still here']);
  });
});

describe('BrokerTap', () => {
  /** An inner broker that records the calls it gets; with `confirms`, subscriptions wait for `confirm(topic)`. */
  class RecordingBroker implements Broker {
    readonly calls: string[] = [];
    deliver: (topic: string, payload: Buffer, binary: boolean) => void = () => {};
    private readonly pending = new Map<string, () => void>();

    constructor(private readonly confirms = false) {}

    attach(_nodeId: string, deliver: (topic: string, payload: Buffer, binary: boolean) => void): void {
      this.deliver = deliver;
    }
    subscribe(topic: string): void | Promise<void> {
      this.calls.push(`+${topic}`);
      if (this.confirms) return new Promise<void>((resolve) => this.pending.set(topic, resolve));
    }
    unsubscribe(topic: string): void {
      this.calls.push(`-${topic}`);
    }
    publish(): void {}
    close(): void {}
    confirm(topic: string): void {
      this.pending.get(topic)!();
    }
  }

  /** Whether `promise` has settled once everything already queued has run. */
  async function settled(promise: Promise<unknown>): Promise<boolean> {
    let done = false;
    void promise.then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    return done;
  }

  it('keeps a held topic subscribed in the inner broker until both the hold and the hub let go of it', async () => {
    const inner = new RecordingBroker();
    const tap = new BrokerTap(inner);
    const release = await tap.hold('room:a', () => {});
    expect(inner.calls).toEqual(['+room:a']);
    void tap.subscribe('room:a'); // the hub's first subscriber, as the joiner subscribes
    release();
    expect(inner.calls).toEqual(['+room:a']);
    tap.unsubscribe('room:a');
    expect(inner.calls).toEqual(['+room:a', '-room:a']);

    const again = await tap.hold('room:a', () => {});
    again();
    again(); // releasing twice does not release another hold
    expect(inner.calls).toEqual(['+room:a', '-room:a', '+room:a', '-room:a']);
  });

  it('shows a hold what other processes publish on its topic, and still hands everything to the hub', async () => {
    const inner = new RecordingBroker();
    const tap = new BrokerTap(inner);
    const hubGot: string[] = [];
    tap.attach(
      'node',
      (topic, payload) => hubGot.push(`${topic} ${payload}`),
      () => {},
    );
    const seen: string[] = [];
    const release = await tap.hold('room:a', (payload) => seen.push(payload.toString()));
    inner.deliver('room:a', Buffer.from('one'), false);
    inner.deliver('room:b', Buffer.from('other room'), false);
    release();
    inner.deliver('room:a', Buffer.from('two'), false);
    expect(seen).toEqual(['one']);
    expect(hubGot).toEqual(['room:a one', 'room:b other room', 'room:a two']);
  });

  it('resolves a hold once the inner broker confirms the subscription', async () => {
    const inner = new RecordingBroker(true);
    const tap = new BrokerTap(inner);
    const hold = tap.hold('room:a', () => {});
    expect(await settled(hold)).toBe(false);
    inner.confirm('room:a');
    expect(await settled(hold)).toBe(true);
    // Already in force: a second hold need not wait.
    expect(await settled(tap.hold('room:a', () => {}))).toBe(true);
  });

  it('waits for the barrier instead when the inner broker cannot confirm, once per subscription', async () => {
    let barriers = 0;
    let pass!: () => void;
    const tap = new BrokerTap(new RecordingBroker(), {
      barrier: () => {
        barriers++;
        return new Promise<void>((resolve) => (pass = resolve));
      },
    });
    const hold = tap.hold('room:a', () => {});
    expect(await settled(hold)).toBe(false);
    pass();
    expect(await settled(hold)).toBe(true);
    await tap.hold('room:a', () => {});
    expect(barriers).toBe(1);
  });
});

describe('newerThan', () => {
  const message = (id: string): ChatMessage => ({ type: 'message', id, room: 'lobby', name: 'alice', text: id, ts: 0 });

  it('tells messages published after a history was read from those in it or trimmed from it', () => {
    const isNew = newerThan([message('p-7'), message('q-3'), message('p-8')]);
    // p-6 and q-2 are older than p's and q's messages in the history; r has none there.
    expect(['p-6', 'p-8', 'p-9', 'q-2', 'q-3', 'q-4', 'r-1'].filter(isNew)).toEqual(['p-9', 'q-4', 'r-1']);
    expect(['p-1', 'x-1'].filter(newerThan([]))).toEqual(['p-1', 'x-1']);
  });
});
