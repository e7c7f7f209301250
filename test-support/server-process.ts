/**
 * Real servers the tests start themselves (redis-server, nats-server): spawn one and wait for the
 * line that says it is ready, kill one and wait until it is gone. One home for what every such
 * helper needs, so each only says which binary, which arguments and which line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';

export interface ReadyLine {
  /** Text in the server's output once it accepts connections. */
  text: string;
  /** Where the server prints it. */
  on: 'stdout' | 'stderr';
}

/** How a server process is started, beyond its command line. */
export interface StartOptions {
  /** CPUs to pin it to (`taskset -c`), as the bench pins brokers with the servers they serve. */
  cores?: string | undefined;
  /** Give up (and kill it) when it is not ready within this many milliseconds. */
  timeoutMs?: number;
}

/**
 * Spawns `command` and resolves once `ready.text` appears in its output; rejects with what it
 * printed if it exits first (or misses `timeoutMs`). The process never outlives the calling
 * process, even when a test fails before stopping it, and its output keeps being drained so it
 * never blocks on a full pipe.
 */
export async function startServerProcess(
  command: string,
  args: string[],
  ready: ReadyLine,
  options: StartOptions = {},
): Promise<ChildProcess> {
  const proc = options.cores
    ? spawn('taskset', ['-c', options.cores, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const watched = ready.on === 'stdout' ? proc.stdout! : proc.stderr!;
  const other = ready.on === 'stdout' ? proc.stderr! : proc.stdout!;
  let log = '';
  const onOther = (chunk: Buffer): void => void (log += chunk.toString());
  await new Promise<void>((resolve, reject) => {
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            proc.kill('SIGKILL');
            reject(new Error(`${command} not ready within ${options.timeoutMs! / 1000} s:\n${log}`));
          }, options.timeoutMs);
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (log.includes(ready.text)) {
        clearTimeout(timer);
        watched.off('data', onData);
        proc.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (): void => {
      clearTimeout(timer);
      reject(new Error(`${command} exited on start:\n${log}`));
    };
    watched.on('data', onData);
    other.on('data', onOther);
    proc.once('exit', onExit);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  other.off('data', onOther);
  proc.stdout!.resume();
  proc.stderr!.resume();
  const reap = (): void => void proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.once('exit', () => process.off('exit', reap));
  return proc;
}

/** Kills `proc` at once (SIGKILL), as a crash would, and resolves once it has exited. */
export async function killServerProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill('SIGKILL');
  await exited;
}

/** `n` distinct free ports: all held open together, so that the system cannot hand out one twice. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer().listen(0, '127.0.0.1'));
  await Promise.all(servers.map((srv) => once(srv, 'listening')));
  const ports = servers.map((srv) => (srv.address() as AddressInfo).port);
  await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
  return ports;
}
