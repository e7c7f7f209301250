/** The pieces of the chat server that need no socket: the rate limit and the rooms' memory bound. */
import type { WebSocket } from '@wsup/core';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../src/rate-limit.js';
import { createRooms, type Member } from '../src/rooms.js';

describe('TokenBucket', () => {
  it('allows a burst, then refills at the given rate up to the burst', () => {
    let now = 0;
    const bucket = new TokenBucket({ burst: 3, perSecond: 2 }, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    now += 500; // one token back
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    now += 60_000; // refills to the burst, not beyond
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  });
});

describe('createRooms', () => {
  /** A member whose socket records what it was sent. */
  function member(name: string): Member & { sent: unknown[] } {
    const sent: unknown[] = [];
    const ws = { send: (data: string) => sent.push(JSON.parse(data)) } as unknown as WebSocket;
    return { ws, name, sent };
  }

  it('sends the joiner its snapshot before any later message of the room', async () => {
    const rooms = createRooms();
    const alice = member('alice');
    await rooms.join('lobby', alice);
    await rooms.publish('lobby', alice, 'hi');
    expect(alice.sent.map((m) => (m as { type: string }).type)).toEqual(['joined', 'message']);
  });

  it('forgets the history of the least recently active empty rooms past maxIdleRooms', async () => {
    const rooms = createRooms({ maxIdleRooms: 2 });
    for (const room of ['a', 'b', 'c']) {
      const m = member('alice');
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
    const stayer = member('stayer');
    await rooms.join('home', stayer);
    await rooms.publish('home', stayer, 'still here');
    for (const room of ['x', 'y', 'z']) {
      const m = member('visitor');
      await rooms.join(room, m);
      await rooms.leave(room, m);
    }
    expect((await rooms.history('home')).map((m) => m.text)).toEqual(['still here']);
  });
});
