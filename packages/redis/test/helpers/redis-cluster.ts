/**
 * A private Redis Cluster for a test file: six redis-server processes (three masters, one replica
 * each) on free ports of 127.0.0.1, in a fresh temporary directory, no persistence, a short
 * cluster-node-timeout so that failovers take seconds. Created with `redis-cli --cluster create`.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { killServerProcess, startServerProcess } from '../../../../test-support/server-process.js';

const run = promisify(execFile);
/** The cluster bus listens on the node's port + 10000. */
const BUS_OFFSET = 10_000;
const NODE_TIMEOUT_MS = 1000;

async function isFree(port: number): Promise<boolean> {
  const srv = createServer();
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port below 55535 whose bus port (+10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const srv = createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    let port = (srv.address() as AddressInfo).port;
    srv.close();
    await once(srv, 'close');
    if (port + BUS_OFFSET > 65535) port = 20_000 + (port % 30_000);
    if (taken.has(port) || taken.has(port + BUS_OFFSET)) continue;
    if ((await isFree(port)) && (await isFree(port + BUS_OFFSET))) return port;
  }
  throw new Error('no free port pair for a cluster node');
}

/** One `CLUSTER SLOTS` range: its slots and the ports of its master and replicas. */
export interface SlotRange {
  start: number;
  end: number;
  master: number;
  replicas: number[];
}

export class RedisCluster {
  private readonly procs = new Map<number, ChildProcess>();
  private readonly admins = new Map<number, Redis>();

  private constructor(
    readonly ports: number[],
    private readonly dir: string,
  ) {}

  /** Starts six nodes, creates the cluster and resolves once every node reports `cluster_state:ok`. */
  static async start(): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'wsup-redis-cluster-'));
    const taken = new Set<number>();
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) {
      const port = await freeClusterPort(taken);
      taken.add(port).add(port + BUS_OFFSET);
      ports.push(port);
    }
    const cluster = new RedisCluster(ports, dir);
    try {
      await Promise.all(ports.map((p) => cluster.launch(p)));
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
        timeout: 60_000,
      });
      // Replicas show in CLUSTER SLOTS once they have attached to their master.
      await cluster.settled((slots) => slots.every((r) => r.replicas.length > 0));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Seeds for a broker: every node's `127.0.0.1:port`. */
  get seeds(): string[] {
    return this.ports.map((p) => `127.0.0.1:${p}`);
  }

  /** Nodes still running. */
  get alive(): number[] {
    return this.ports.filter((p) => this.procs.has(p));
  }

  /** An admin connection to the node on `port` (no retries: a dead node fails fast). */
  admin(port: number): Redis {
    let c = this.admins.get(port);
    if (!c) {
      c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => 100, lazyConnect: false });
      c.on('error', () => undefined);
      this.admins.set(port, c);
    }
    return c;
  }

  /** The slot map as the node on `port` (default: the first live one) sees it. */
  async slots(port = this.alive[0]!): Promise<SlotRange[]> {
    const reply = (await this.admin(port).call('CLUSTER', 'SLOTS')) as [number, number, ...[string, number][]][];
    return reply
      .map(([start, end, master, ...replicas]) => ({
        start: Number(start),
        end: Number(end),
        master: Number(master[1]),
        replicas: replicas.map((r) => Number(r[1])),
      }))
      .sort((a, b) => a.start - b.start);
  }

  /** The port of the master serving `slot`. */
  async ownerOf(slot: number): Promise<number> {
    const range = (await this.slots()).find((r) => r.start <= slot && slot <= r.end);
    if (!range) throw new Error(`no owner for slot ${slot}`);
    return range.master;
  }

  /** The ports of the masters serving slots. */
  async masters(): Promise<number[]> {
    return [...new Set((await this.slots()).map((r) => r.master))].sort((a, b) => a - b);
  }

  /** A replica of the master on `port`. */
  async replicaOf(port: number): Promise<number> {
    // After a failover, the demoted master shows as a replica once it has synced: wait (10 s at most).
    for (let attempt = 0; attempt < 100; attempt++) {
      const range = (await this.slots()).find((r) => r.master === port && r.replicas.length > 0);
      if (range) return range.replicas[0]!;
      await sleep(100);
    }
    throw new Error(`no replica of ${port}`);
  }

  /** Connections on the node on `port` subscribed to the shard channel, per `PUBSUB SHARDNUMSUB`. */
  async shardSubscribers(port: number, channel: string): Promise<number> {
    const reply = (await this.admin(port).call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
    return Number(reply[1]);
  }

  /** A graceful failover: `CLUSTER FAILOVER` on the replica, which becomes its shard's master. */
  async failover(replica: number): Promise<void> {
    await this.admin(replica).call('CLUSTER', 'FAILOVER');
    await this.settled((slots) => slots.some((r) => r.master === replica));
  }

  /** Kills the node on `port` at once (SIGKILL), as a crash would. */
  async kill(port: number): Promise<void> {
    const proc = this.procs.get(port);
    if (!proc) return;
    this.procs.delete(port);
    this.admins.get(port)?.disconnect();
    this.admins.delete(port);
    await killServerProcess(proc);
  }

  /**
   * Moves `slot` to the master on `to`, as `redis-cli --cluster reshard` does: `SETSLOT IMPORTING`
   * on the target, `SETSLOT MIGRATING` on the source, `MIGRATE` of the slot's keys, then
   * `SETSLOT NODE` on every master. See https://redis.io/commands/cluster-setslot/
   */
  async migrateSlot(slot: number, to: number): Promise<void> {
    const from = await this.ownerOf(slot);
    const id = async (port: number): Promise<string> => String(await this.admin(port).call('CLUSTER', 'MYID'));
    const [fromId, toId] = await Promise.all([id(from), id(to)]);
    await this.admin(to).call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId);
    await this.admin(from).call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId);
    for (;;) {
      const keys = (await this.admin(from).call('CLUSTER', 'GETKEYSINSLOT', String(slot), '100')) as string[];
      if (keys.length === 0) break;
      await this.admin(from).call('MIGRATE', '127.0.0.1', String(to), '', '0', '5000', 'KEYS', ...keys);
    }
    for (const port of [to, from, ...(await this.masters()).filter((p) => p !== to && p !== from)]) {
      await this.admin(port).call('CLUSTER', 'SETSLOT', String(slot), 'NODE', toId);
    }
    await this.settled((slots) => slots.some((r) => r.master === to && r.start <= slot && slot <= r.end));
  }

  /**
   * Waits (up to 30 s) until every live node reports `cluster_state:ok` and the same slot map
   * covering all 16384 slots, which satisfies `accept` when given.
   */
  async settled(accept: (slots: SlotRange[]) => boolean = () => true): Promise<void> {
    const deadline = Date.now() + 30_000;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const views = await Promise.all(
          this.alive.map(async (p) => {
            const info = String(await this.admin(p).call('CLUSTER', 'INFO'));
            return { ok: info.includes('cluster_state:ok'), slots: await this.slots(p) };
          }),
        );
        const maps = views.map((v) => JSON.stringify(v.slots.map(({ start, end, master }) => [start, end, master])));
        const covered = views[0]!.slots.reduce((n, r) => n + r.end - r.start + 1, 0) === 16384;
        last = maps.join(' | ');
        if (views.every((v) => v.ok) && new Set(maps).size === 1 && covered && accept(views[0]!.slots)) return;
      } catch (err) {
        last = String(err);
      }
      await sleep(100);
    }
    throw new Error(`the cluster did not settle: ${last}`);
  }

  /** Stops every node and removes the directory. */
  async stop(): Promise<void> {
    for (const c of this.admins.values()) c.disconnect();
    this.admins.clear();
    await Promise.all([...this.procs.keys()].map((p) => this.kill(p)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(port: number): Promise<void> {
    // Each node gets its own directory: its cluster-config-file (nodes.conf) is its own state.
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--cluster-node-timeout',
      String(NODE_TIMEOUT_MS),
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.dir,
      '--daemonize',
      'no',
    ];
    const proc = await startServerProcess('redis-server', args, { text: 'Ready to accept connections', on: 'stdout' });
    this.procs.set(port, proc);
  }
}
