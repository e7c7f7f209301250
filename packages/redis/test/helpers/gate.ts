/**
 * A TCP relay to Redis that the test opens and shuts: one node's view of Redis going away and
 * coming back, while the server itself and the other nodes carry on.
 */
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export class Gate {
  private passing = false;
  private readonly sockets = new Set<Socket>();
  /** The relayed connections' client ends (what the node sends arrives there). */
  private readonly clients = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** A shut gate to 127.0.0.1:`targetPort`: connections are accepted and dropped at once. */
  static async to(targetPort: number): Promise<Gate> {
    let gate: Gate | undefined;
    const server = createServer((client) => gate!.relay(client, targetPort));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    gate = new Gate(server, (server.address() as AddressInfo).port);
    return gate;
  }

  /** Lets connections through from now on. */
  open(): void {
    this.passing = true;
  }

  /**
   * Stops passing on what the node sends over the connections relayed now: they stay open, and
   * nothing sent from here on is answered.
   */
  stall(): void {
    for (const c of this.clients) {
      c.unpipe();
      c.pause();
    }
  }

  /** Drops every relayed connection and refuses new ones. */
  shut(): void {
    this.passing = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.clients.clear();
  }

  async close(): Promise<void> {
    this.shut();
    this.server.close();
    await once(this.server, 'close');
  }

  private relay(client: Socket, targetPort: number): void {
    client.on('error', () => undefined);
    if (!this.passing) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    this.clients.add(client);
    client.once('close', () => this.clients.delete(client));
    upstream.on('error', () => client.destroy());
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.once('close', () => {
        this.sockets.delete(s);
        (s === client ? upstream : client).destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
