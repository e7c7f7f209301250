import { Heartbeat, IdleTimer, type LivenessTarget } from './heartbeat.js';

/**
 * A connection's liveness timers, the heartbeat and the idle timeout, made only when one of them
 * is on: a connection without them keeps a single undefined field.
 */
export class Liveness {
  private readonly heartbeat: Heartbeat | undefined;
  private readonly idle: IdleTimer | undefined;

  constructor(target: LivenessTarget, heartbeatMs: number, idleTimeoutMs: number) {
    if (heartbeatMs > 0) this.heartbeat = new Heartbeat(target, heartbeatMs);
    if (idleTimeoutMs > 0) this.idle = new IdleTimer(target, idleTimeoutMs);
  }

  /** Something arrived from the peer: it is alive (any frame counts). */
  seen(): void {
    if (this.heartbeat) this.heartbeat.seen = true;
  }

  /** Whether {@link active} matters: an idle timeout is on. */
  get watchesActivity(): boolean {
    return this.idle !== undefined;
  }

  /** A data message went either way: the connection is not idle. */
  active(): void {
    if (this.idle) this.idle.active = true;
  }

  /** Leaves the shared timers (once closing starts; a timer that fired has left already). */
  stop(): void {
    this.heartbeat?.stop();
    this.idle?.stop();
  }
}
