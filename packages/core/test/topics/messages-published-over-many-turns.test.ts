/**
 * A topic's run carries over from turn to turn while its subscribers only receive (the hub then
 * visits them once per turn, at the flush). Whatever happens to a subscriber between turns, each
 * must still get exactly the messages it would get one by one, in order, within its limits,
 * counted exactly; and broadcasts keep counting as activity for an idle timeout.
 */
import { once } from 'node:events';
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpgradeOptions } from '@wsup/core';
import { type Subscriber, subscribers, type TopicServer, topicServer } from '../helpers/topic-subscribers.js';

let srv: TopicServer;

async function clients(n: number, opts: UpgradeOptions = {}): Promise<Subscriber[]> {
  srv = await topicServer(opts);
  return subscribers(srv, n);
}

afterEach(() => srv?.close());

describe('messages published over many turns', () => {
  it('reach every subscriber in order, with what each was sent between and within turns kept in its place', async () => {
    const [a, b, c] = await clients(3);
    const hub = srv.router.hub;
    const [wsA, wsB] = srv.conns;
    expect(hub.publish('t', 'm1')).toBe(3);
    await turn();
    expect(hub.publish('t', 'm2')).toBe(3);
    await turn();
    wsA!.send('own to a');
    expect(hub.publish('t', 'm3')).toBe(3);
    await turn();
    expect(hub.publish('t', 'm4')).toBe(3);
    wsB!.send('own to b');
    expect(hub.publish('t', 'm5')).toBe(3);
    await turn();
    expect(hub.publish('t', 'm6')).toBe(3);
    const all = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    await expect
      .poll(() => [a!.inbox, b!.inbox, c!.inbox])
      .toEqual([['m1', 'm2', 'own to a', 'm3', 'm4', 'm5', 'm6'], ['m1', 'm2', 'm3', 'm4', 'own to b', 'm5', 'm6'], all]);
    const stats = srv.router.stats();
    expect(stats.messagesOut).toBe(3 * all.length + 2);
    expect(stats.bytesOut).toBe(3 * 2 * all.length + 8 + 8);
  });

  it('follow subscribing, unsubscribing and terminating between turns, counting only who gets them', async () => {
    const [a, b, c] = await clients(3);
    const hub = srv.router.hub;
    const [, wsB, wsC] = srv.conns;
    expect(hub.publish('t', 'm1')).toBe(3);
    await turn();
    wsC!.unsubscribe('t');
    expect(hub.publish('t', 'm2')).toBe(2);
    await turn();
    expect(hub.publish('t', 'm3')).toBe(2);
    await turn();
    wsC!.subscribe('t');
    expect(hub.publish('t', 'm4')).toBe(3);
    await turn();
    const bClosed = once(b!, 'close');
    wsB!.terminate();
    expect(hub.publish('t', 'm5')).toBe(2);
    await turn();
    expect(hub.publish('t', 'm6')).toBe(2);
    await expect
      .poll(() => [a!.inbox, c!.inbox])
      .toEqual([
        ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'],
        ['m1', 'm4', 'm5', 'm6'],
      ]);
    await bClosed;
    expect(b!.inbox).toEqual(['m1', 'm2', 'm3', 'm4']);
  });

  it('keep a subscriber with an idle timeout active while they reach it, turn after turn', async () => {
    const [a] = await clients(1, { idleTimeout: 0.15 });
    const hub = srv.router.hub;
    // 0.6 s of broadcasts, one every 30 ms: four idle timeouts long.
    for (let i = 0; i < 20; i++) {
      expect(hub.publish('t', `tick ${i}`)).toBe(1);
      await sleep(30);
    }
    expect(srv.conns[0]!.readyState).toBe(1);
    await expect.poll(() => a!.inbox.length).toBe(20);
    // Then idle: the timeout closes it (1001, RFC 6455 §7.4.1).
    const [code] = (await once(srv.conns[0]!, 'close')) as [number];
    expect(code).toBe(1001);
  });

  it('hold a subscriber that stops reading to its maxBuffered (closed with 1008) while the other gets every message', async () => {
    const [a, b] = await clients(2, { maxBuffered: 256 * 1024 });
    const hub = srv.router.hub;
    const [wsA] = srv.conns;
    (a as unknown as { _socket: { pause(): void } })._socket.pause();
    const errors: string[] = [];
    wsA!.on('error', (err) => errors.push((err as { code?: string }).code ?? ''));
    let closed = false;
    const aClosed = new Promise<number>((resolve) =>
      wsA!.on('close', (code) => {
        closed = true;
        resolve(code);
      }),
    );
    const payload = 'x'.repeat(16 * 1024);
    let sent = 0;
    // One message per turn until the kernel's buffers and then maxBuffered are full (at most 64 MB).
    while (!closed && sent < 4000) {
      hub.publish('t', `${sent} ${payload}`);
      sent++;
      await turn();
    }
    expect(closed).toBe(true);
    expect(await aClosed).toBe(1008);
    expect(errors).toEqual(['ERR_BUFFER_OVERFLOW']);
    await expect.poll(() => b!.inbox.length, { timeout: 10_000 }).toBe(sent);
    expect(b!.inbox.map((m) => Number(m.slice(0, m.indexOf(' '))))).toEqual([...Array(sent).keys()]);
  });
});
