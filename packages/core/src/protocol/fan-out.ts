import { Buffer } from 'node:buffer';
import { writeRunAtTurnEnd } from './turn-flush.js';

/** What a run asks of a connection that follows it as a member (its `Sender`). */
export interface RunMember {
  /** The run it follows; a member that leaves sets another, or none. */
  run: FanOut | undefined;
  /**
   * Writes `all`, the run's frames of this turn.
   * @returns whether it may follow the run into the next turn: its socket took everything.
   */
  writeRun(run: FanOut, all: Buffer): boolean;
  /** Its owner waits to hear of a flush (a 'drain' is owed). */
  readonly drainOwed: boolean;
  /** Tells its owner of the flush, which may call into the application. */
  tellFlushed(): void;
}

/**
 * Frames published in one turn of the event loop to the same set of connections, queued as one
 * item per connection: the first message of a broadcast visits every subscriber, the following
 * ones are appended here once, whatever the number of subscribers, and leave in the same write
 * (the same Buffer for everyone) at the flush. A run grows only while it is the last item of every
 * follower's queue, and while every follower has room for it below its high-water mark; after
 * that ({@link close}) later messages are queued connection by connection again, in order.
 *
 * Followers with nothing else queued are the run's members: the run writes to them itself at the
 * flush, in one pass. When every follower is a member and every member's socket took the whole
 * write, the run carries over: emptied, it stays open for the topic's messages of the next turns,
 * so a steady broadcast visits its subscribers once per turn (at the flush), not twice. Anything
 * else a member queues, or its leaving, closes the run, and the next message visits every
 * subscriber again.
 */
export class FanOut {
  readonly frames: Buffer[] = [];
  /** Wire bytes of the frames. */
  bytes = 0;
  /** Messages, and their payload bytes (for the counters). */
  messages = 0;
  payloadBytes = 0;
  /** Connections that queued it. */
  followers = 0;
  /** Whether frames may still be appended. */
  open = true;
  /** The most bytes the run may reach: the least room any follower had below its limits. */
  private room = Number.POSITIVE_INFINITY;
  private joined: Buffer | undefined;
  /** Followers that the run writes to itself (see above). */
  private readonly members: RunMember[] = [];
  /** A follower queued the run behind frames of its own: the run cannot carry over. */
  private queuedBehind = false;
  private scheduled = false;

  /**
   * Adds a frame for every follower, unless the run is closed or a follower has no room for it;
   * then the run closes and the caller queues the frame connection by connection.
   */
  add(frame: Buffer, payloadBytes: number): boolean {
    if (!this.open || this.bytes + frame.length > this.room) {
      this.open = false;
      return false;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      writeRunAtTurnEnd(this);
    }
    this.frames.push(frame);
    this.bytes += frame.length;
    this.messages++;
    this.payloadBytes += payloadBytes;
    return true;
  }

  /** A connection queues the run; `room` is how many bytes it can take. */
  follow(room: number): void {
    this.followers++;
    if (room < this.room) this.room = room;
  }

  /** @internal `member` follows the run with nothing else queued, and the run may write to it. */
  join(member: RunMember): void {
    this.members.push(member);
  }

  /** @internal A follower queued the run behind frames of its own, or writes it itself. */
  joinBehind(): void {
    this.queuedBehind = true;
  }

  close(): void {
    this.open = false;
    // Between turns no flush is due, and nothing holds the members but this.
    if (this.messages === 0) this.members.length = 0;
  }

  /** Every frame in one Buffer, made once for all followers. */
  all(): Buffer {
    this.joined ??= this.frames.length === 1 ? this.frames[0]! : Buffer.concat(this.frames, this.bytes);
    return this.joined;
  }

  /**
   * Writes the turn's frames to the members still following, then carries the run over (see the
   * class) or lets the members go. Only then are members that wait for a 'drain' told of the
   * flush: that may call into the application, which may send or publish again.
   */
  flush(): void {
    this.scheduled = false;
    let carries = this.open && !this.queuedBehind;
    // Appends are over for this turn, whatever happens while the members are written.
    this.open = false;
    const members = this.members;
    const all = this.all();
    let owed: RunMember[] | undefined;
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!;
      if (m.run !== this) carries = false;
      else {
        if (!m.writeRun(this, all)) carries = false;
        // Written (a member whose socket is gone has left): one owed a 'drain' hears of it below.
        if (m.run === this && m.drainOwed) (owed ??= []).push(m);
      }
    }
    if (carries) {
      this.frames.length = 0;
      this.bytes = 0;
      this.messages = 0;
      this.payloadBytes = 0;
      this.joined = undefined;
      this.open = true;
    } else {
      // Leavers' queues may still hold the run (its frames stay for them); the members let it go.
      for (let i = 0; i < members.length; i++) if (members[i]!.run === this) members[i]!.run = undefined;
      members.length = 0;
    }
    if (owed !== undefined) for (let i = 0; i < owed.length; i++) owed[i]!.tellFlushed();
  }
}
