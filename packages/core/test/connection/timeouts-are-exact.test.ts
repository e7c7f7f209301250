/**
 * Idle and heartbeat timeouts fire within a second of their period, however long it is: the
 * shared timer ticks four times a period for short ones and once a second for long ones. Fake
 * timers make the clock exact, so the bounds are checked without timing real waits.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat, IdleTimer, type LivenessTarget, ticksPerPeriod } from '../../src/connection/heartbeat.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function recorder() {
  const events: { what: string; at: number }[] = [];
  const target: LivenessTarget = {
    ping: () => {
      events.push({ what: 'ping', at: Date.now() });
      return true;
    },
    heartbeatTimedOut: () => void events.push({ what: 'dead', at: Date.now() }),
    idleTimedOut: () => void events.push({ what: 'idle', at: Date.now() }),
  };
  return { events, target };
}

describe('ticksPerPeriod', () => {
  it('is four for periods up to four seconds and one a second beyond', () => {
    expect(ticksPerPeriod(1_000)).toBe(4);
    expect(ticksPerPeriod(4_000)).toBe(4);
    expect(ticksPerPeriod(4_500)).toBe(5);
    expect(ticksPerPeriod(60_000)).toBe(60);
    expect(ticksPerPeriod(3_600_000)).toBe(3_600);
  });
});

describe('the idle timeout', () => {
  it.each([60, 300, 7.5])('of %s s fires within a second after the last message, wherever it fell between ticks', (seconds) => {
    for (const offsetMs of [1, 250, 999]) {
      const start = Date.now();
      const { events, target } = recorder();
      const idle = new IdleTimer(target, seconds * 1000);
      vi.advanceTimersByTime(2_000 + offsetMs);
      idle.active = true;
      const lastActivity = Date.now();
      vi.advanceTimersByTime(seconds * 1000 + 2_000);
      idle.stop();
      expect(events).toHaveLength(1);
      const late = events[0]!.at - lastActivity;
      expect(late).toBeGreaterThanOrEqual(seconds * 1000);
      expect(late).toBeLessThanOrEqual(seconds * 1000 + 1000);
      expect(start).toBeLessThan(lastActivity);
    }
  });
});

describe('the heartbeat', () => {
  it('of 30 s pings within a second of 30 s of silence and gives up within a second of 60 s', () => {
    const { events, target } = recorder();
    const hb = new Heartbeat(target, 30_000);
    vi.advanceTimersByTime(333);
    hb.seen = true;
    const lastHeard = Date.now();
    vi.advanceTimersByTime(62_000);
    hb.stop();
    expect(events.map((e) => e.what)).toEqual(['ping', 'dead']);
    const [ping, dead] = events.map((e) => e.at - lastHeard) as [number, number];
    expect(ping).toBeGreaterThanOrEqual(30_000);
    expect(ping).toBeLessThanOrEqual(31_000);
    expect(dead).toBeGreaterThanOrEqual(60_000);
    expect(dead).toBeLessThanOrEqual(61_000);
  });
});
