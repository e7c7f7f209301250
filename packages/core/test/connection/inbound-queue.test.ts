/**
 * The queue of unread messages: read by index rather than shifted, kept between bursts, let go
 * after a deep one, and measured with a cost per message so empty messages are bounded too.
 */
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Inbound, type InboundOwner, MessageIterator, QUEUED_MESSAGE_COST } from '../../src/connection/inbound.js';
import { check, join, leave } from '../../src/connection/memory-budget.js';

interface FakeOwner extends InboundOwner {
  pauses: number;
  resumes: number;
  emptied: number;
}

function owner(receiveHighWaterMark = 1 << 30): FakeOwner {
  const events = new EventEmitter();
  const fake = {
    pauses: 0,
    resumes: 0,
    emptied: 0,
    socket: {
      pause: () => fake.pauses++,
      resume: () => fake.resumes++,
    },
    options: { receiveHighWaterMark, rateLimit: undefined },
    isClosed: false,
    listenerCount: (event: string) => events.listenerCount(event),
    emit: (event: string, ...args: unknown[]) => events.emit(event, ...args),
    onError: () => {},
    inboxEmptied: () => fake.emptied++,
    // A member of the memory budget, as the connection is: a message queued unread marks it.
    heldBytes: () => 0,
    shed: () => {},
  };
  return fake as unknown as FakeOwner;
}

/** The queue's array, to see what an emptied connection keeps. */
function slots(inbound: Inbound): number {
  return (inbound as unknown as { queue: unknown[] }).queue.length;
}

describe('the unread-message queue', () => {
  it('hands out messages in arrival order across any interleaving of arrivals and reads', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.nat(40), fc.constant(-1)), { maxLength: 300 }), (ops) => {
        const o = owner();
        const inbound = new Inbound(o);
        const model: string[] = [];
        let n = 0;
        for (const op of ops) {
          if (op === -1) {
            const got = inbound.take();
            expect(got?.data).toBe(model.shift());
          } else {
            const data = `m${n++}`.padEnd(op, '.');
            inbound.deliverMessage(false, data);
            model.push(data);
          }
          expect(inbound.unread).toBe(model.length);
          expect(inbound.bytes).toBe(model.reduce((sum, m) => sum + m.length, 0));
          expect(inbound.heldBytes).toBe(inbound.bytes + model.length * QUEUED_MESSAGE_COST);
        }
      }),
    );
  });

  it('says the inbox emptied once per time the last unread message is taken', () => {
    const o = owner();
    const inbound = new Inbound(o);
    for (let i = 0; i < 3; i++) inbound.deliverMessage(false, 'x');
    inbound.take();
    inbound.take();
    expect(o.emptied).toBe(0);
    inbound.take();
    expect(o.emptied).toBe(1);
    expect(inbound.take()).toBeUndefined();
    expect(o.emptied).toBe(1);
  });

  it('makes its connection one the memory budget asks, once per burst of unread messages', () => {
    const o = owner();
    let asked = 0;
    o.heldBytes = () => {
      asked++;
      return inbound.heldBytes;
    };
    const inbound = new Inbound(o);
    join(o); // as a connection joins when it is made
    check();
    expect(asked).toBe(0);
    inbound.deliverMessage(false, 'x');
    inbound.deliverMessage(false, 'y');
    check();
    expect(asked).toBe(1);
    inbound.take();
    inbound.take();
    check(); // finds it holding nothing, and forgets it
    check();
    expect(asked).toBe(2);
    // A message handed to a listener is not held.
    const listened = owner();
    listened.heldBytes = () => ++asked;
    listened.emit = () => true;
    join(listened);
    new Inbound(listened).deliverMessage(false, 'z');
    check();
    expect(asked).toBe(2);
    leave(o);
    leave(listened);
  });

  it('keeps a short array between bursts, and no more than 64 slots of a deep burst’s', () => {
    const inbound = new Inbound(owner());
    for (let i = 0; i < 16; i++) inbound.deliverMessage(false, 'x');
    while (inbound.take() !== undefined);
    expect(slots(inbound)).toBe(32);
    for (let i = 0; i < 1000; i++) inbound.deliverMessage(true, Buffer.alloc(1));
    expect(slots(inbound)).toBe(2000);
    while (inbound.take() !== undefined);
    expect(slots(inbound)).toBeLessThanOrEqual(64);
    // It still queues afterwards.
    inbound.deliverMessage(false, 'after');
    expect(inbound.take()?.data).toBe('after');
  });

  it('stays short under a reader that never quite catches up', () => {
    const inbound = new Inbound(owner());
    for (let i = 0; i < 3; i++) inbound.deliverMessage(false, 'x');
    let longest = 0;
    for (let i = 0; i < 10_000; i++) {
      inbound.deliverMessage(false, `m${i}`);
      expect(inbound.take()?.data).toBe(i < 3 ? 'x' : `m${i - 3}`);
      longest = Math.max(longest, slots(inbound));
    }
    expect(inbound.unread).toBe(3);
    expect(longest).toBeLessThanOrEqual(2 * 64 + 8);
  });

  it('drops its references to messages already read', () => {
    const inbound = new Inbound(owner());
    for (let i = 0; i < 4; i++) inbound.deliverMessage(true, Buffer.alloc(8));
    inbound.take();
    inbound.take();
    const queue = (inbound as unknown as { queue: unknown[] }).queue;
    expect(queue[0]).toBeUndefined();
    expect(queue[2]).toBeUndefined();
    expect(queue[4]).toBeDefined();
  });

  it('pauses at the mark counting each message’s cost, and resumes at half of it', () => {
    const mark = 100 * QUEUED_MESSAGE_COST;
    const o = owner(mark);
    const inbound = new Inbound(o);
    for (let i = 0; i < 99; i++) inbound.deliverMessage(true, Buffer.alloc(0));
    expect(inbound.isPaused).toBe(false);
    inbound.deliverMessage(true, Buffer.alloc(0));
    expect(inbound.isPaused).toBe(true);
    expect(inbound.bytes).toBe(0);
    for (let i = 0; i < 49; i++) inbound.take();
    expect(inbound.isPaused).toBe(true);
    inbound.take();
    expect(inbound.isPaused).toBe(false);
    expect(o.pauses).toBe(1);
    expect(o.resumes).toBe(1);
  });

  it('for await gets the messages queued before it and those that arrive while it waits, in order', async () => {
    const inbound = new Inbound(owner());
    inbound.deliverMessage(false, 'a');
    inbound.deliverMessage(false, 'b');
    const got: string[] = [];
    const loop = (async () => {
      for await (const msg of new MessageIterator(inbound)) got.push(msg.data as string);
    })();
    await new Promise((resolve) => setImmediate(resolve));
    for (const data of ['c', 'd', 'e']) inbound.deliverMessage(false, data);
    inbound.end();
    await loop;
    expect(got).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});
