/**
 * A run of published frames whose followers are all members (nothing else queued) writes to them
 * itself at the flush and, when every socket took the whole write, carries over: emptied and
 * still open, it takes the topic's next messages in later turns without visiting the followers.
 * Anything a member does besides following ends that, and nothing is written twice or lost.
 */
import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { serverFrame } from '../../src/protocol/frame-header.js';
import { FanOut } from '../../src/protocol/fan-out.js';
import { Sender, type SenderOwner } from '../../src/protocol/sender.js';
import { decodeFrames } from '../helpers/raw.js';
import { RecordingSink } from '../helpers/sink.js';

function frame(text: string): Buffer {
  return serverFrame(Buffer.from(text), 1, false);
}

/** What a sink received, as text messages. */
function received(sink: RecordingSink): string[] {
  return decodeFrames(Buffer.concat(sink.chunks)).frames.map((f) => f.payload.toString());
}

/** `n` senders following a new run as members (as the hub's first message of a turn makes them). */
function followers(n: number, member = true): { run: FanOut; sinks: RecordingSink[]; senders: Sender[] } {
  const sinks = Array.from({ length: n }, () => new RecordingSink());
  const senders = sinks.map((sink) => new Sender(sink, false));
  const run = new FanOut();
  run.add(frame('m1'), 2);
  for (const sender of senders) {
    sender.queueRun(run, member);
    run.follow(1 << 20);
  }
  return { run, sinks, senders };
}

describe('a run of published frames over many turns', () => {
  it('carries over when every follower is a member whose socket took the write, and reaches them in the next turns', async () => {
    const { run, sinks } = followers(3);
    await turn();
    expect(run.open).toBe(true);
    expect(run.messages).toBe(0);
    for (let t = 2; t <= 4; t++) {
      expect(run.add(frame(`m${t}a`), 3)).toBe(true);
      expect(run.add(frame(`m${t}b`), 3)).toBe(true);
      await turn();
    }
    for (const sink of sinks) {
      expect(received(sink)).toEqual(['m1', 'm2a', 'm2b', 'm3a', 'm3b', 'm4a', 'm4b']);
      // One write per turn.
      expect(sink.chunks).toHaveLength(4);
    }
  });

  it('counts every message of every turn for each member', async () => {
    const { run, senders } = followers(2);
    await turn();
    run.add(frame('m2'), 2);
    run.add(frame('m3'), 2);
    await turn();
    for (const sender of senders) {
      expect(sender.messagesSent).toBe(3);
      expect(sender.payloadBytesSent).toBe(6);
    }
  });

  it('does not carry over a run that a follower queued behind frames of its own', async () => {
    const sinks = [new RecordingSink(), new RecordingSink()];
    const senders = sinks.map((sink) => new Sender(sink, false));
    senders[0]!.queueFrame(1, 'own', 3, true, false);
    const run = new FanOut();
    run.add(frame('m1'), 2);
    for (const sender of senders) {
      sender.queueRun(run, true);
      run.follow(1 << 20);
    }
    await turn();
    expect(run.open).toBe(false);
    expect(received(sinks[0]!)).toEqual(['own', 'm1']);
    expect(received(sinks[1]!)).toEqual(['m1']);
  });

  it('does not carry over a run with a follower that may not be a member (one whose sends count as activity)', async () => {
    const { run, sinks } = followers(2, false);
    await turn();
    expect(run.open).toBe(false);
    for (const sink of sinks) expect(received(sink)).toEqual(['m1']);
  });

  it('ends the carry-over when a member’s socket keeps part of the write', async () => {
    const { run, sinks } = followers(2);
    sinks[1]!.writableLength = 100;
    await turn();
    expect(run.open).toBe(false);
    expect(run.add(frame('m2'), 2)).toBe(false);
    for (const sink of sinks) expect(received(sink)).toEqual(['m1']);
  });

  it('ends the carry-over when a member sends between turns, and writes nothing stale before its frame', async () => {
    const { run, sinks, senders } = followers(2);
    await turn();
    senders[0]!.queueFrame(1, 'own', 3, true, false);
    expect(run.add(frame('m2'), 2)).toBe(false);
    await turn();
    expect(received(sinks[0]!)).toEqual(['m1', 'own']);
    expect(received(sinks[1]!)).toEqual(['m1']);
    // The other member let the closed run go: a new run finds it free to follow.
    const next = new FanOut();
    next.add(frame('m2'), 2);
    senders[1]!.queueRun(next, true);
    next.follow(1 << 20);
    await turn();
    expect(received(sinks[1]!)).toEqual(['m1', 'm2']);
  });

  it('writes a member that sends in a later turn its run’s frames first, once', async () => {
    const { run, sinks, senders } = followers(2);
    await turn();
    expect(run.add(frame('m2'), 2)).toBe(true);
    senders[0]!.queueFrame(1, 'own', 3, true, false);
    expect(run.add(frame('m3'), 2)).toBe(false);
    await turn();
    expect(received(sinks[0]!)).toEqual(['m1', 'm2', 'own']);
    expect(received(sinks[1]!)).toEqual(['m1', 'm2']);
    await turn();
    expect(received(sinks[0]!)).toEqual(['m1', 'm2', 'own']);
  });

  it('lets a member go when it follows another run, and the carried run closes (it lost a member)', async () => {
    const { run, sinks, senders } = followers(2);
    await turn();
    const other = new FanOut();
    other.add(frame('x1'), 2);
    senders[0]!.queueRun(other, true);
    other.follow(1 << 20);
    expect(run.open).toBe(false);
    await turn();
    expect(received(sinks[0]!)).toEqual(['m1', 'x1']);
    expect(received(sinks[1]!)).toEqual(['m1']);
  });

  it('drops a member whose socket is no longer writable, counting what it was sent', async () => {
    const { run, sinks, senders } = followers(2);
    await turn();
    sinks[0]!.writable = false;
    run.add(frame('m2'), 2);
    await turn();
    expect(run.open).toBe(false);
    expect(received(sinks[0]!)).toEqual(['m1']);
    expect(received(sinks[1]!)).toEqual(['m1', 'm2']);
    expect(senders[0]!.messagesSent).toBe(2);
  });

  it('tells a member that waits for a drain after the run is settled, so that what it sends then comes after the run', async () => {
    const sinks = [new RecordingSink(), new RecordingSink()];
    let run: FanOut | undefined;
    let calls = 0;
    const owner: SenderOwner = {
      socketHolds() {},
      flushed() {
        calls++;
        waiting.drainOwed = false;
        // The application answers the drain at once: a message of its own, then a new publication.
        waiting.queueFrame(1, 'after drain', 11, true, false);
        expect(run!.add(frame('late'), 4)).toBe(false);
      },
    };
    const waiting = new Sender(sinks[0]!, false, owner);
    const other = new Sender(sinks[1]!, false);
    run = new FanOut();
    run.add(frame('m1'), 2);
    for (const sender of [waiting, other]) {
      sender.queueRun(run, true);
      run.follow(1 << 20);
    }
    waiting.drainOwed = true;
    await turn();
    expect(calls).toBe(1);
    // The sends of the drain handler closed the run: nothing of it is written twice.
    await turn();
    expect(received(sinks[0]!)).toEqual(['m1', 'after drain']);
    expect(received(sinks[1]!)).toEqual(['m1']);
  });
});
