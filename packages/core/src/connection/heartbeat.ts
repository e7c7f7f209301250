/**
 * Process-wide timers for heartbeat and idle timeouts. Connections with the same period share one
 * interval timer (a server with 10,000 connections and `heartbeat: 30` has one timer, not 10,000),
 * which ticks four times per period, or once a second for longer periods; connections count
 * silent ticks instead of owning timers.
 */
import { ErrorCode, WebSocketError } from '../errors.js';

/** Something the shared timer checks on every tick. */
export interface TickMember {
  /** Called every quarter period; returns false to leave the group. */
  tick(): boolean;
}

/** The longest tick, so that a timeout fires within a second of its period however long that is. */
const MAX_TICK_MS = 1000;

/**
 * Ticks per period: four for short periods (the precision of "silent for one period" is a
 * quarter of it), and one a second for periods over four seconds. A timeout fires between one
 * period and one period plus one tick after the last activity.
 */
export function ticksPerPeriod(periodMs: number): number {
  return Math.max(4, Math.ceil(periodMs / MAX_TICK_MS));
}

class TickGroup {
  readonly members = new Set<TickMember>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly periodMs: number,
    private readonly onEmpty: () => void,
  ) {
    this.timer = setInterval(() => this.run(), Math.max(1, periodMs / ticksPerPeriod(periodMs)));
    // A heartbeat must never be what keeps a process alive.
    this.timer.unref();
  }

  private run(): void {
    for (const m of this.members) {
      if (!m.tick()) this.members.delete(m);
    }
    if (this.members.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.timer);
    this.onEmpty();
  }
}

const groups = new Map<number, TickGroup>();

/** Adds `member` to the shared timer for `periodMs`. */
function joinTicks(periodMs: number, member: TickMember): void {
  let g = groups.get(periodMs);
  if (!g) {
    const created: TickGroup = new TickGroup(periodMs, () => {
      if (groups.get(periodMs) === created) groups.delete(periodMs);
    });
    g = created;
    groups.set(periodMs, g);
  }
  g.members.add(member);
}

/** Removes `member` from the shared timer for `periodMs`. */
function leaveTicks(periodMs: number, member: TickMember): void {
  const g = groups.get(periodMs);
  if (!g) return;
  g.members.delete(member);
  if (g.members.size === 0) g.stop();
}

/** The running shared timers: their period and how many connections each serves (diagnostics). */
export function tickTimers(): { periodMs: number; members: number }[] {
  return [...groups.values()].map((g) => ({ periodMs: g.periodMs, members: g.members.size }));
}

/** What the liveness timers act on: a connection. */
export interface LivenessTarget {
  /** Sends a ping; false once the connection is closing. */
  ping(): boolean;
  /** The peer stayed silent for two heartbeat periods. */
  heartbeatTimedOut(): void;
  /** No data message went either way for an idle period. */
  idleTimedOut(): void;
}

/** A member of the shared timer for its period. */
abstract class Ticking implements TickMember {
  constructor(
    protected readonly target: LivenessTarget,
    readonly periodMs: number,
  ) {
    joinTicks(periodMs, this);
  }

  abstract tick(): boolean;

  /** Leaves the shared timer. */
  stop(): void {
    leaveTicks(this.periodMs, this);
  }
}

/**
 * Heartbeat: after one period with nothing from the peer, ping; after a second silent period, the
 * peer is dead. Any frame counts as life, so a busy connection never pings.
 */
export class Heartbeat extends Ticking {
  /** Something arrived since the last tick. */
  seen = false;
  private silentTicks = 0;

  tick(): boolean {
    if (this.seen) {
      this.seen = false;
      this.silentTicks = 0;
      return true;
    }
    this.silentTicks++;
    const ticks = ticksPerPeriod(this.periodMs);
    if (this.silentTicks === ticks) {
      // Silent for a period: ask. A ping that cannot be sent means the connection is closing.
      return this.target.ping();
    }
    if (this.silentTicks >= 2 * ticks) {
      this.target.heartbeatTimedOut();
      return false;
    }
    return true;
  }
}

/** Idle timeout: no data message in either direction for one period. */
export class IdleTimer extends Ticking {
  /** A data message was sent or received since the last tick. */
  active = false;
  private idleTicks = 0;

  tick(): boolean {
    if (this.active) {
      this.active = false;
      this.idleTicks = 0;
      return true;
    }
    if (++this.idleTicks >= ticksPerPeriod(this.periodMs)) {
      this.target.idleTimedOut();
      return false;
    }
    return true;
  }
}

/** The failure of a connection whose peer stayed silent for two heartbeat periods. */
export function heartbeatTimeout(heartbeatMs: number): WebSocketError {
  return new WebSocketError(ErrorCode.HeartbeatTimeout, `no answer from the peer within ${(2 * heartbeatMs) / 1000} s`);
}
