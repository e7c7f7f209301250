import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { SLOTS } from './slot.js';

/** Where a cluster node listens. */
export interface NodeAddress {
  host: string;
  port: number;
}

/** `host:port`, the key a node goes by in the slot map. */
export function nodeKey(address: NodeAddress): string {
  return `${address.host}:${address.port}`;
}

/** How the topology reaches a node it has no connection to: a short-lived connection. */
export type ProbeNode = (address: NodeAddress) => Redis;

/** Settle time before a refresh asked for by a redirect, so a migration in progress can finish. */
const REDIRECT_REFRESH_DELAY_MS = 100;

/**
 * The cluster's slot map: which master serves each of the 16384 hash slots, read with
 * `CLUSTER SLOTS` from any node that answers (a connection the broker already has, else a known
 * master, else a seed). Emits `change` when an owner changed: after a failover (a replica was
 * promoted) or a slot migration (`CLUSTER SETSLOT … NODE`).
 *
 * Refreshes are asked for by whoever notices a change (a `MOVED` reply, an unsolicited
 * `sunsubscribe`, a lost connection) and are coalesced: one `CLUSTER SLOTS` at a time.
 */
export class ClusterTopology extends EventEmitter<{ change: [] }> {
  private owners: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly masters = new Map<string, NodeAddress>();
  private running: Promise<boolean> | undefined;
  private queued = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly seeds: NodeAddress[],
    private readonly probe: ProbeNode,
    /** Connections the broker has open and ready, tried first. */
    private readonly openConnections: () => Iterable<Redis>,
  ) {
    super();
  }

  /** Whether a slot map has been read. */
  get known(): boolean {
    return this.masters.size > 0;
  }

  /** The master serving `slot` (`host:port`), once known. */
  owner(slot: number): string | undefined {
    return this.owners[slot];
  }

  /** The address of a master of the current map. */
  address(key: string): NodeAddress | undefined {
    return this.masters.get(key);
  }

  /** The masters serving at least one slot. */
  masterKeys(): string[] {
    return [...this.masters.keys()];
  }

  /** Reads the slot map now (or right after the read in progress); resolves false when no node answered. */
  refresh(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (this.running) {
      this.queued = true;
      return this.running;
    }
    this.running = this.read().finally(() => {
      this.running = undefined;
      if (this.queued && !this.stopped) {
        this.queued = false;
        void this.refresh();
      }
    });
    return this.running;
  }

  /** A refresh shortly, after a redirect or an unsolicited `sunsubscribe`. */
  refreshSoon(delayMs = REDIRECT_REFRESH_DELAY_MS): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, delayMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async read(): Promise<boolean> {
    for (const conn of this.openConnections()) {
      if (conn.status !== 'ready') continue;
      try {
        const reply = await conn.call('CLUSTER', 'SLOTS');
        if (this.apply(reply, conn.options.host ?? '127.0.0.1')) return true;
      } catch {
        // That node is going away; ask another.
      }
    }
    const tried = new Set<string>();
    for (const address of [...this.masters.values(), ...this.seeds]) {
      const key = nodeKey(address);
      if (tried.has(key) || this.stopped) continue;
      tried.add(key);
      const conn = this.probe(address);
      try {
        await conn.connect();
        if (this.apply(await conn.call('CLUSTER', 'SLOTS'), address.host)) return true;
      } catch {
        // Unreachable or not in cluster mode: ask the next one.
      } finally {
        conn.disconnect();
      }
    }
    return false;
  }

  /** Takes a `CLUSTER SLOTS` reply (`[[start, end, [host, port, id…], replicas…], …]`). */
  private apply(reply: unknown, askedHost: string): boolean {
    if (this.stopped || !Array.isArray(reply) || reply.length === 0) return false;
    const owners = new Array<string | undefined>(SLOTS).fill(undefined);
    const masters = new Map<string, NodeAddress>();
    for (const range of reply) {
      if (!Array.isArray(range) || !Array.isArray(range[2])) continue;
      const [start, end, [rawHost, rawPort]] = range as [number, number, [unknown, unknown]];
      // An empty or '?' endpoint means "the address you reached me on" (cluster-preferred-endpoint-type).
      const host = typeof rawHost === 'string' && rawHost !== '' && rawHost !== '?' ? rawHost : askedHost;
      const address = { host, port: Number(rawPort) };
      const key = nodeKey(address);
      masters.set(key, address);
      for (let slot = Number(start); slot <= Number(end) && slot < SLOTS; slot++) owners[slot] = key;
    }
    if (masters.size === 0) return false;
    const changed = owners.some((owner, slot) => owner !== this.owners[slot]);
    this.owners = owners;
    this.masters.clear();
    for (const [key, address] of masters) this.masters.set(key, address);
    if (changed) this.emit('change');
    return true;
  }
}
