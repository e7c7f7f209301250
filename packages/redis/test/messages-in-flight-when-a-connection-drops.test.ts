/**
 * A connection to Redis drops while messages sent on it are unanswered. ioredis then settles
 * none of them in time (a reconnect abandons them; only maxRetriesPerRequest failed reconnects
 * reject them), so the publishers write them off at the drop: one typed report with their count,
 * and nothing of theirs holds up publishing afterwards. Fake connections make "unanswered"
 * exact; broker.test.ts shows the same against a real server.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { ClusterPublisher } from '../src/cluster/publisher.js';
import type { ClusterTopology } from '../src/cluster/topology.js';
import { Publisher, type PublisherHooks } from '../src/publisher.js';

/** The parts of an ioredis client the publishers use; commands are answered only when told. */
class FakeConnection extends EventEmitter {
  status = 'ready';
  readonly sent: string[] = [];
  private readonly pending: ((n: number) => void)[] = [];

  publish(channel: string, message: Buffer): Promise<number> {
    return this.spublish(channel, message);
  }

  spublish(_channel: string, message: Buffer): Promise<number> {
    this.sent.push(message.toString());
    return new Promise((resolve) => this.pending.push(resolve));
  }

  connect(): Promise<void> {
    return Promise.resolve();
  }

  disconnect(): void {}

  /** Answers every command sent so far. */
  answerAll(reached = 1): void {
    for (const resolve of this.pending.splice(0)) resolve(reached);
  }

  /** The socket closed; ioredis abandons what was in flight (its promises never settle). */
  drop(): void {
    this.pending.length = 0;
    this.status = 'reconnecting';
    this.emit('close');
  }

  reconnect(): void {
    this.status = 'ready';
    this.emit('ready');
  }
}

/** Lets the publishers' async steps after 'ready' run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('messages in flight when a connection drops', () => {
  it('standalone: reported lost once with their count, no longer counted, and publishing flows again', async () => {
    const conn = new FakeConnection();
    const lost: { channel: string; count: number }[] = [];
    const hooks: PublisherHooks = {
      state: () => undefined,
      refused: () => undefined,
      lost: (channel, count) => lost.push({ channel, count }),
    };
    const publisher = new Publisher(conn as unknown as Redis, true, 0, 100, 1 << 20, hooks);
    publisher.hold(false);
    conn.emit('ready');
    await settle();
    expect(publisher.live).toBe(true);

    for (const m of ['a', 'b', 'c']) expect(publisher.publish(m === 'a' ? 'ch:a' : 'ch:b', Buffer.from(m))).toBe(true);
    expect(publisher.unanswered).toBe(3);
    conn.drop();
    expect(lost).toEqual([{ channel: 'ch:a', count: 3 }]);
    expect(publisher.unanswered).toBe(0);

    // Published during the outage: buffered, then sent first after the reconnect.
    expect(publisher.publish('ch:a', Buffer.from('d'))).toBe(true);
    expect(publisher.buffered).toBe(1);
    conn.reconnect();
    await settle();
    expect(publisher.publish('ch:a', Buffer.from('e'))).toBe(true);
    expect(conn.sent).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(publisher.unanswered).toBe(2);
    conn.answerAll();
    await settle();
    expect(publisher.unanswered).toBe(0);
    expect(lost).toHaveLength(1);
  });

  it('standalone: held while the other connection is down, then sent in order', async () => {
    const conn = new FakeConnection();
    const hooks: PublisherHooks = { state: () => undefined, refused: () => undefined, lost: () => undefined };
    const publisher = new Publisher(conn as unknown as Redis, true, 0, 100, 1 << 20, hooks);
    conn.emit('ready');
    await settle();
    // Held from the start until the broker says its subscriber connection is up.
    expect(publisher.publish('ch', Buffer.from('1'))).toBe(true);
    expect(conn.sent).toEqual([]);
    publisher.hold(false);
    expect(conn.sent).toEqual(['1']);
    publisher.hold(true);
    publisher.publish('ch', Buffer.from('2'));
    publisher.publish('ch', Buffer.from('3'));
    expect(publisher.buffered).toBe(2);
    publisher.hold(false);
    publisher.publish('ch', Buffer.from('4'));
    expect(conn.sent).toEqual(['1', '2', '3', '4']);
  });

  it('cluster: a master connection that drops with messages in flight does not keep the publisher from resuming', async () => {
    const conn = new FakeConnection();
    const topology = Object.assign(new EventEmitter(), {
      masterKeys: () => ['m1'],
      address: () => ({ host: '127.0.0.1', port: 1 }),
      owner: () => 'm1',
      refreshSoon: () => undefined,
    });
    const lost: { channel: string; count: number }[] = [];
    const states: boolean[] = [];
    const publisher = new ClusterPublisher(topology as unknown as ClusterTopology, () => conn as unknown as Redis, 0, 100, 1 << 20, {
      state: () => states.push(publisher.live),
      refused: () => undefined,
      lost: (channel, count) => lost.push({ channel, count }),
    });
    publisher.sync();
    conn.emit('ready');
    await settle();
    expect(publisher.live).toBe(true);
    publisher.publish('ch:x', Buffer.from('a'));
    publisher.publish('ch:y', Buffer.from('b'));
    expect(conn.sent).toEqual(['a', 'b']);

    conn.drop();
    expect(lost).toEqual([{ channel: 'ch:x', count: 2 }]);
    expect(publisher.live).toBe(false);
    publisher.publish('ch:x', Buffer.from('c'));
    conn.reconnect();
    await settle();
    // Before, the two abandoned messages counted as in flight for good and it never resumed.
    expect(publisher.live).toBe(true);
    expect(publisher.buffered).toBe(0);
    publisher.publish('ch:x', Buffer.from('d'));
    expect(conn.sent).toEqual(['a', 'b', 'c', 'd']);
    expect(states).toEqual([true, false, true]);
  });
});
