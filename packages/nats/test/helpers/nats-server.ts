/**
 * Private nats-servers for a test file: each on its own free port on 127.0.0.1, with a monitoring
 * port for subscription queries, alone or as a cluster (routes on ports of their own). Never
 * the system's instance, never port 4222.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { freePorts, killServerProcess, startServerProcess } from '../../../../test-support/server-process.js';

const BINARY = process.env.NATS_SERVER ?? 'nats-server';

function ensureInstalled(): void {
  const probe = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error('nats-server is not installed: apt-get install nats-server (.ci/run does it in CI)');
  }
}

interface Ports {
  client: number;
  monitor: number;
  cluster?: number;
}

export class NatsServer {
  private proc: ChildProcess | undefined;

  private constructor(
    private readonly ports: Ports,
    /** Route URLs of the other members, for a cluster member. */
    private readonly routes: string[],
  ) {}

  /** Starts a server on free ports and resolves once it accepts connections. */
  static async start(): Promise<NatsServer> {
    ensureInstalled();
    return NatsServer.launchFresh(async () => {
      const [client, monitor] = (await freePorts(2)) as [number, number];
      return { client, monitor };
    }, []);
  }

  /** Starts `size` servers routed to each other, and resolves once every route is up. */
  static async cluster(size = 3): Promise<NatsServer[]> {
    ensureInstalled();
    const ports = await freePorts(3 * size);
    const urls = Array.from({ length: size }, (_, i) => `nats://127.0.0.1:${ports[3 * i + 2]}`);
    const members = await Promise.all(
      urls.map((_, i) =>
        NatsServer.launchFresh(
          // A retry (a port taken meanwhile) gets fresh client and monitor ports; the route ports
          // are known to the other members and stay.
          async (attempt) => {
            const [client, monitor] = attempt === 0 ? [ports[3 * i]!, ports[3 * i + 1]!] : ((await freePorts(2)) as [number, number]);
            return { client, monitor, cluster: ports[3 * i + 2]! };
          },
          urls.filter((_, j) => j !== i),
        ),
      ),
    );
    await Promise.all(members.map((m) => m.awaitRoutes(size - 1)));
    return members;
  }

  private static async launchFresh(ports: (attempt: number) => Promise<Ports>, routes: string[]): Promise<NatsServer> {
    for (let attempt = 0; ; attempt++) {
      const server = new NatsServer(await ports(attempt), routes);
      try {
        await server.launch();
        return server;
      } catch (err) {
        // Another process took a port between our probe and nats-server's bind.
        if (attempt >= 4) throw err;
      }
    }
  }

  get port(): number {
    return this.ports.client;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.ports.client}`;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** The server's monitoring endpoint `path` (`/varz`, `/subsz?…`) as JSON. */
  async monitor<T = Record<string, unknown>>(path: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.ports.monitor}${path}`);
    return (await res.json()) as T;
  }

  /**
   * Where this server would send a message on the literal `subject`: its own clients'
   * subscriptions, plus one for each route whose server has interest in it (interest crosses
   * routes asynchronously, after the subscribing client's server has acknowledged it).
   */
  async interest(subject: string): Promise<number> {
    const local = await this.monitor<{ subscriptions_list?: unknown[] }>(`/subsz?subs=1&limit=1000&test=${encodeURIComponent(subject)}`);
    const routez = await this.monitor<{ routes?: { subscriptions_list?: string[] }[] }>('/routez?subs=1');
    const routed = (routez.routes ?? []).filter((r) => r.subscriptions_list?.includes(subject)).length;
    return (local.subscriptions_list?.length ?? 0) + routed;
  }

  /** Client connections. */
  async connections(): Promise<number> {
    return (await this.monitor<{ num_connections: number }>('/connz')).num_connections;
  }

  /** Resolves once this server has `n` routes. */
  async awaitRoutes(n: number, timeoutMs = 15_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const { num_routes } = await this.monitor<{ num_routes: number }>('/routez').catch(() => ({ num_routes: 0 }));
      if (num_routes >= n) return;
      if (performance.now() > deadline) throw new Error(`nats-server has ${num_routes} routes, not ${n}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills the server at once (SIGKILL), as a crash would, and waits until it is gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    await killServerProcess(proc);
  }

  /** Starts the server again on the same ports (with no state: core NATS keeps none). */
  async restart(): Promise<void> {
    if (this.proc) throw new Error('nats-server is still running');
    // The port was just freed; a few tries ride out a slow release.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.launch();
        return;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Stops the server. */
  async stop(): Promise<void> {
    await this.kill();
  }

  private async launch(): Promise<void> {
    const args = ['-a', '127.0.0.1', '-p', String(this.ports.client), '-m', String(this.ports.monitor)];
    if (this.ports.cluster !== undefined) {
      args.push('--cluster_name', 'wsup-test', '--cluster', `nats://127.0.0.1:${this.ports.cluster}`);
      if (this.routes.length > 0) args.push('--routes', this.routes.join(','));
    }
    const proc = await startServerProcess(BINARY, args, { text: 'Server is ready', on: 'stderr' });
    this.proc = proc;
  }
}
