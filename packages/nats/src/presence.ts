import { setTimeout as sleep } from 'node:timers/promises';

/** What a presence message says about its sender. */
export const PresenceKind = {
  /** "I have (re)connected and my subscriptions are in place: who is there?" */
  Hello: 1,
  /** "I am here, with my subscriptions in place" (the answer to a hello). */
  Here: 2,
  /** "I am leaving" (the broker closes). */
  Bye: 3,
} as const;
export type PresenceKind = (typeof PresenceKind)[keyof typeof PresenceKind];

/** Poll interval of {@link Presence.awaitPeers}. */
const POLL_MS = 20;
/** Most peers remembered; more than any deployment of hubs sharing a prefix would have. */
const MAX_PEERS = 10_000;

/**
 * The other brokers on the same prefix, as they announce themselves on a control subject.
 *
 * After an outage the other nodes reconnect on their own schedules; a buffered message sent
 * before a node has subscribed again would miss it. NATS has no client command that counts a
 * subject's subscribers, so each broker says hello once its subscriptions are in place (its
 * hello travels on the same connection after its `SUB`s, so whoever receives the hello can reach
 * those subscriptions), and answers every hello with "here". A reconnected publisher waits until
 * every peer it knew before the outage has spoken since, or `recoveryTimeout`; peers still
 * silent then are forgotten, and come back with their next hello.
 */
export class Presence {
  private readonly peers = new Set<string>();
  /** Peers heard from since this node's last (re)connect. */
  private readonly heard = new Set<string>();

  constructor(private readonly send: (kind: PresenceKind) => void) {}

  /** Peers known. */
  get size(): number {
    return this.peers.size;
  }

  /** A (re)connect: forget who was heard on the last connection, and say hello. */
  connected(): void {
    this.heard.clear();
    this.send(PresenceKind.Hello);
  }

  /** A presence message from `from`. */
  received(from: string, kind: number): void {
    if (kind === PresenceKind.Bye) {
      this.peers.delete(from);
      this.heard.delete(from);
      return;
    }
    if (kind !== PresenceKind.Hello && kind !== PresenceKind.Here) return;
    if (!this.peers.has(from) && this.peers.size >= MAX_PEERS) return;
    this.peers.add(from);
    this.heard.add(from);
    if (kind === PresenceKind.Hello) this.send(PresenceKind.Here);
  }

  /**
   * Resolves once every known peer has been heard from since {@link connected}, or after
   * `timeoutMs` (peers still silent are then forgotten), or once `current()` turns false.
   */
  async awaitPeers(timeoutMs: number, current: () => boolean): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (!current()) return;
      const silent = [...this.peers].filter((p) => !this.heard.has(p));
      if (silent.length === 0) return;
      if (performance.now() >= deadline) {
        for (const p of silent) this.peers.delete(p);
        return;
      }
      await sleep(POLL_MS);
    }
  }
}
