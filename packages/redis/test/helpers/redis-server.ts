/**
 * A private redis-server for a test file: its own port on 127.0.0.1, its own temporary directory,
 * no persistence. Never the system's instance, never port 6379.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePorts, killServerProcess, startServerProcess } from '../../../../test-support/server-process.js';

function ensureInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error('redis-server is not installed: apt-get install redis-server (.ci/run does it in CI)');
  }
}

export class RedisServer {
  private proc: ChildProcess | undefined;
  private readonly clients: Redis[] = [];

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** Starts a server on a free port and resolves once it accepts connections. */
  static async start(): Promise<RedisServer> {
    ensureInstalled();
    const dir = mkdtempSync(join(tmpdir(), 'wsup-redis-'));
    for (let attempt = 0; ; attempt++) {
      const server = new RedisServer((await freePorts(1))[0]!, dir);
      try {
        await server.launch();
        return server;
      } catch (err) {
        // Another process took the port between our probe and redis-server's bind.
        if (attempt >= 4) {
          rmSync(dir, { recursive: true, force: true });
          throw err;
        }
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** A client of the test's own, for PUBSUB queries; closed by {@link stop}. */
  client(): Redis {
    const c = new Redis({ host: '127.0.0.1', port: this.port, retryStrategy: () => 50, maxRetriesPerRequest: null });
    c.on('error', () => undefined);
    this.clients.push(c);
    return c;
  }

  /** Connections subscribed to `channel`, per `PUBSUB SHARDNUMSUB` (or `NUMSUB` for classic). */
  async subscribers(channel: string, mode: 'sharded' | 'classic' = 'sharded'): Promise<number> {
    const reply = (await this.admin().call('PUBSUB', mode === 'sharded' ? 'SHARDNUMSUB' : 'NUMSUB', channel)) as [string, number];
    return Number(reply[1]);
  }

  /** Channels with subscribers matching `pattern`, per `PUBSUB SHARDCHANNELS` (or `CHANNELS`), sorted. */
  async channels(pattern: string, mode: 'sharded' | 'classic' = 'sharded'): Promise<string[]> {
    const reply = (await this.admin().call('PUBSUB', mode === 'sharded' ? 'SHARDCHANNELS' : 'CHANNELS', pattern)) as string[];
    return reply.map(String).sort();
  }

  private adminClient: Redis | undefined;
  private admin(): Redis {
    this.adminClient ??= this.client();
    return this.adminClient;
  }

  /** Kills the server at once (SIGKILL), as a crash would, and waits until it is gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    await killServerProcess(proc);
  }

  /**
   * Stops the server's process (SIGSTOP) without closing anything: connections stay up, the
   * kernel still takes what clients send, and nothing is answered, as with an overloaded server.
   */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  /** Lets a paused server run again (SIGCONT). */
  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  /** Starts the server again on the same port (empty: nothing was persisted). */
  async restart(): Promise<void> {
    if (this.proc) throw new Error('redis-server is still running');
    await this.launch();
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    for (const c of this.clients) c.disconnect();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
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
    this.proc = proc;
  }
}
