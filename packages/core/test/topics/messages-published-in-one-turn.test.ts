/**
 * Messages published to a topic in one turn of the event loop are queued for its subscribers
 * together (a run: the first message visits every subscriber, the next ones are appended once for
 * all). Whatever happens to a subscriber in between, each one must still get exactly the messages
 * it would get one by one, in order, within its limits, counted exactly.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpgradeOptions } from '@wsup/core';
import { type Subscriber, subscribers, type TopicServer, topicServer } from '../helpers/topic-subscribers.js';

let srv: TopicServer;

async function server(opts: UpgradeOptions = {}): Promise<void> {
  srv = await topicServer(opts);
}

function clients(n: number, paths: string[] = []): Promise<Subscriber[]> {
  return subscribers(srv, n, paths);
}

afterEach(() => srv?.close());

describe('messages published in one turn', () => {
  it('reach every subscriber in order, with what each was sent in between kept in its place', async () => {
    await server();
    const [a, b, c] = await clients(3);
    const hub = srv.router.hub;
    const [wsA, wsB] = srv.conns;
    expect(hub.publish('t', 'm1')).toBe(3);
    expect(hub.publish('t', 'm2')).toBe(3);
    wsA!.send('own to a');
    expect(hub.publish('t', 'm3')).toBe(3);
    wsB!.send('own to b');
    expect(hub.publish('t', 'm4')).toBe(3);
    await expect
      .poll(() => [a!.inbox, b!.inbox, c!.inbox])
      .toEqual([
        ['m1', 'm2', 'own to a', 'm3', 'm4'],
        ['m1', 'm2', 'm3', 'own to b', 'm4'],
        ['m1', 'm2', 'm3', 'm4'],
      ]);
    // Counted as if queued one by one: 4 messages out to each, plus the one of its own.
    const stats = srv.router.stats();
    expect(stats.messagesOut).toBe(14);
    expect(stats.bytesOut).toBe(12 * 2 + 8 + 8);
  });

  it('follow subscribing and unsubscribing within the turn', async () => {
    await server();
    const [a, b, c] = await clients(3);
    const hub = srv.router.hub;
    const [, wsB, wsC] = srv.conns;
    wsC!.unsubscribe('t');
    expect(hub.publish('t', 'm1')).toBe(2);
    expect(hub.publish('t', 'm2')).toBe(2);
    wsB!.unsubscribe('t');
    expect(hub.publish('t', 'm3')).toBe(1);
    wsC!.subscribe('t');
    expect(hub.publish('t', 'm4')).toBe(2);
    expect(hub.publish('t', 'm5')).toBe(2);
    await expect
      .poll(() => [a!.inbox, b!.inbox, c!.inbox])
      .toEqual([
        ['m1', 'm2', 'm3', 'm4', 'm5'],
        ['m1', 'm2'],
        ['m4', 'm5'],
      ]);
  });

  it('skip the publishing subscriber (except) and a terminated one, and count only who gets them', async () => {
    await server();
    const [a, b, c] = await clients(3);
    const hub = srv.router.hub;
    const [wsA, , wsC] = srv.conns;
    expect(hub.publish('t', 'm1')).toBe(3);
    expect(wsA!.publish('t', 'from a')).toBe(2);
    expect(hub.publish('t', 'm2')).toBe(3);
    const cClosed = once(c!, 'close');
    wsC!.terminate();
    expect(hub.publish('t', 'm3')).toBe(2);
    await expect
      .poll(() => [a!.inbox, b!.inbox])
      .toEqual([
        ['m1', 'm2', 'm3'],
        ['m1', 'from a', 'm2', 'm3'],
      ]);
    await cClosed;
    expect(c!.inbox.includes('m3')).toBe(false);
  });

  it('stop at a subscriber’s high-water mark (a drain is owed), and one past its maxBuffered alone is closed with 1008', async () => {
    await server({ sendHighWaterMark: 1000, maxBuffered: 4000 });
    const [a, b] = await clients(2, ['/?maxBuffered=2000', '/']);
    const [wsA, wsB] = srv.conns;
    const drains: string[] = [];
    wsA!.on('drain', () => drains.push('a'));
    wsB!.on('drain', () => drains.push('b'));
    const hub = srv.router.hub;
    const sent: number[] = [];
    // 20 frames of 102 bytes in one turn: the first 9 (918 bytes) stay below both marks of 1,000
    // and go as a run; then one by one. A is refused past its 2,000 bytes, at the 20th.
    for (let i = 0; i < 20; i++) sent.push(hub.publish('t', `${i}`.padStart(100, '.')));
    expect(sent).toEqual([...Array(19).fill(2), 1]);
    const [code] = (await once(a!, 'close')) as [number];
    expect(code).toBe(1008);
    await expect.poll(() => b!.inbox.length).toBe(20);
    expect(b!.inbox.map((m) => Number(m.replace(/^\.+/, '')))).toEqual([...Array(20).keys()]);
    expect(wsB!.readyState).toBe(1);
    await expect.poll(() => drains).toContain('b');
  });
});
