/**
 * A private redis-server for the cluster command: its own port on 127.0.0.1, its own temporary
 * directory, nothing saved, gone when the command stops.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const INSTALL_HINT = 'sudo apt-get update && sudo apt-get install -y redis-server';

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}

export class RedisProcess {
  private constructor(
    private readonly proc: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server on a free port; resolves once it accepts connections. */
  static async start(): Promise<RedisProcess> {
    const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      throw new Error(
        `redis-server is not installed (Debian's redis-server package). Install it with:\n  ${INSTALL_HINT}\nor run the chat processes yourself against a Redis you have: REDIS_URL=redis://host:port PORT=3001 npx -y pnpm@10 --dir examples/chat start`,
      );
    }
    const dir = mkdtempSync(join(tmpdir(), 'wsup-chat-redis-'));
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        return new RedisProcess(await launch(port, dir), port, dir);
      } catch (err) {
        // Another program took the port between the probe and redis-server's bind.
        if (attempt === 5) {
          rmSync(dir, { recursive: true, force: true });
          throw err;
        }
      }
    }
  }

  /** Shuts it down (SIGTERM; nothing to save) and removes its directory. */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = once(this.proc, 'exit');
      this.proc.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
  // Its own process group: Ctrl-C in the terminal reaches the cluster command only, which stops
  // the chat processes first (their last presence notices go through Redis), then this.
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (!log.includes('Ready to accept connections')) return;
      proc.stdout!.off('data', onData);
      proc.off('exit', onExit);
      resolve();
    };
    const onExit = (): void => reject(new Error(`redis-server exited on start:\n${log}`));
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    proc.once('exit', onExit);
    proc.once('error', reject);
  });
  // Keep draining its output so that it never blocks on a full pipe.
  proc.stdout!.resume();
  proc.stderr!.resume();
  // Not left behind when the command fails.
  const reap = (): void => void proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.once('exit', () => process.off('exit', reap));
  return proc;
}
