/**
 * The broker deployments of the multinode group, each started by the bench itself on 127.0.0.1
 * free ports, pinned with the servers (they are part of the system under test), and stopped at the
 * end. A broker whose server binary is missing (or that does not come up) is reported as skipped,
 * never as a failure of the bench.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killServerProcess, type ReadyLine, startServerProcess } from '../../test-support/server-process.js';

const REDIS_READY: ReadyLine = { text: 'Ready to accept connections', on: 'stdout' };

/** What the servers and the raw clients need to reach a deployment. */
export type BrokerAddress =
  | { kind: 'redis'; cluster: boolean; nodes: { host: string; port: number }[] }
  | { kind: 'nats'; servers: string[] };

export interface Deployment {
  name: BrokerName;
  about: string;
  address: BrokerAddress;
  /** Its processes, whose CPU counts towards the system under test. */
  pids(): number[];
  stop(): Promise<void>;
}

export type BrokerName = 'redis' | 'redis-cluster' | 'nats';
export const BROKER_NAMES: BrokerName[] = ['redis', 'redis-cluster', 'nats'];

const NATS_SERVER = process.env.BENCH_NATS_SERVER ?? '/usr/sbin/nats-server';

/** A free loopback port; with `bus`, port + 10000 (Redis Cluster's bus) is free too. */
async function freePort(bus = false): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probe(0);
    if (!bus) return port;
    if (
      port + 10000 < 65536 &&
      (await probe(port + 10000).then(
        () => true,
        () => false,
      ))
    )
      return port;
  }
  throw new Error('no free port pair for Redis Cluster');
}

async function probe(port: number): Promise<number> {
  const srv = createServer();
  srv.listen(port, '127.0.0.1');
  await Promise.race([once(srv, 'listening'), once(srv, 'error').then(([err]) => Promise.reject(err))]);
  const got = (srv.address() as AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return got;
}

function has(command: string, args: string[]): boolean {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

/** Starts a broker server (on `cores` when pinned); one that is not ready within 10 s is a failed deployment. */
function startBroker(command: string, args: string[], cores: string | undefined, ready: ReadyLine): Promise<ChildProcess> {
  return startServerProcess(command, args, ready, { cores, timeoutMs: 10_000 });
}

async function kill(procs: ChildProcess[]): Promise<void> {
  await Promise.all(procs.map(killServerProcess));
}

function redisArgs(port: number, dir: string, extra: string[] = []): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    // Never disconnect a subscriber for its output buffer during a run: the window bounds it anyway.
    '--client-output-buffer-limit',
    'pubsub 0 0 0',
    ...extra,
  ];
}

async function redisStandalone(cores: string | undefined): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'wsup-bench-redis-'));
  try {
    const port = await freePort();
    const proc = await startBroker('redis-server', redisArgs(port, dir), cores, REDIS_READY);
    return {
      name: 'redis',
      about: `redis-server ${redisVersion()} standalone`,
      address: { kind: 'redis', cluster: false, nodes: [{ host: '127.0.0.1', port }] },
      pids: () => [proc.pid!],
      stop: async () => {
        await kill([proc]);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function redisCluster(cores: string | undefined): Promise<Deployment> {
  const dirs: string[] = [];
  const procs: ChildProcess[] = [];
  const cleanup = async (): Promise<void> => {
    await kill(procs);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort(true);
      const dir = mkdtempSync(join(tmpdir(), 'wsup-bench-redis-cluster-'));
      dirs.push(dir);
      ports.push(port);
      procs.push(
        await startBroker(
          'redis-server',
          redisArgs(port, dir, [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, 'nodes.conf'),
            '--cluster-node-timeout',
            '5000',
          ]),
          cores,
          REDIS_READY,
        ),
      );
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.error || create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stderr || create.stdout}`);
    // Every node must see the whole cluster before clients rely on its slot map.
    const deadline = Date.now() + 20_000;
    for (const port of ports) {
      for (;;) {
        const info = spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' }).stdout ?? '';
        if (info.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${port} not ok: ${info.split('\n')[0]}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return {
      name: 'redis-cluster',
      about: `redis-server ${redisVersion()} Cluster, 3 masters, no replicas`,
      address: { kind: 'redis', cluster: true, nodes: ports.map((port) => ({ host: '127.0.0.1', port })) },
      pids: () => procs.map((p) => p.pid!),
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function nats(cores: string | undefined): Promise<Deployment> {
  const port = await freePort();
  const proc = await startBroker(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], cores, { text: 'Server is ready', on: 'stderr' });
  const version = spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  return {
    name: 'nats',
    about: `${version || 'nats-server'}, one server`,
    address: { kind: 'nats', servers: [`127.0.0.1:${port}`] },
    pids: () => [proc.pid!],
    stop: () => kill([proc]),
  };
}

function redisVersion(): string {
  const out = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /v=(\S+)/.exec(out)?.[1] ?? '';
}

/** Why a broker cannot be deployed here, or null when it can be tried. */
export function unavailable(name: BrokerName): string | null {
  if (name === 'nats') return has(NATS_SERVER, ['--version']) ? null : `${NATS_SERVER} not found (BENCH_NATS_SERVER names another)`;
  if (!has('redis-server', ['--version'])) return 'redis-server not installed (apt-get install redis-server)';
  if (name === 'redis-cluster' && !has('redis-cli', ['--version'])) return 'redis-cli not installed';
  return null;
}

export function deploy(name: BrokerName, cores: string | undefined): Promise<Deployment> {
  if (name === 'redis') return redisStandalone(cores);
  if (name === 'redis-cluster') return redisCluster(cores);
  return nats(cores);
}
