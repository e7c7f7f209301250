/**
 * The chat server: Express 5 serves the page from public/ and two WebSocket routes through
 * @wsup/express, /chat (the JSON chat protocol, see protocol.ts) and /echo (echoes text and
 * binary, for checking a client).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import { attach, WebSocketError, type UpgradeOptions, type UpgradeRouter } from '@wsup/express';
import type { RateLimit } from './rate-limit.js';
import { createRooms, type Rooms } from './rooms.js';
import { ChatSession } from './session.js';

export interface ChatOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Messages kept per room and replayed to joiners. Default 50. */
  historySize?: number;
  /** Largest message a browser may send, in bytes; bigger closes with 1009. Default 16 KiB. */
  maxPayload?: number;
  /** Seconds of silence before the server pings a browser (and drops it if it stays silent). Default 30. */
  heartbeat?: number;
  /** permessage-deflate. Default true. */
  compress?: boolean;
  /** Per connection. Default 20 in a row, then 5 per second. */
  rateLimit?: RateLimit;
  /** Refused messages a connection may send before it is closed with 1008. Default 5. */
  maxStrikes?: number;
  /** Where unexpected errors go. Default console.error. */
  log?: (message: string, err: unknown) => void;
}

export interface ChatServer {
  readonly server: Server;
  readonly router: UpgradeRouter;
  readonly port: number;
  /** `http://host:port/`: the page to open. */
  readonly url: string;
  /** Closes every connection that joined as `name` with 4001 and `reason`; returns how many. */
  kick(name: string, reason?: string): number;
  /** Closes every WebSocket with 1001 and stops listening. */
  close(): Promise<void>;
}

const publicDir = fileURLToPath(new URL('../public/', import.meta.url));

export function createChatApp(options: ChatOptions = {}, rooms: Rooms = createRooms(options), sessions = new Set<ChatSession>()): Express {
  const log = options.log ?? ((message, err) => console.error(message, err));
  const socketOptions: UpgradeOptions = {
    compress: options.compress ?? true,
    heartbeat: options.heartbeat ?? 30,
    maxPayload: options.maxPayload ?? 16 * 1024,
    // A page that stops reading while its room is busy is dropped (1008) long before it costs much.
    maxBuffered: 1024 * 1024,
  };
  const sessionOptions = {
    rooms,
    rateLimit: options.rateLimit ?? { burst: 20, perSecond: 5 },
    maxStrikes: options.maxStrikes ?? 5,
    log,
  };

  const app = express();
  app.disable('x-powered-by');

  app.get('/chat', (_req, res) => {
    const ws = upgradeOrAnswered(() => res.upgrade(socketOptions));
    if (!ws) return;
    const session = new ChatSession(ws, sessionOptions);
    sessions.add(session);
    void session.run().finally(() => sessions.delete(session));
  });

  app.get('/echo', (_req, res) => {
    const ws = upgradeOrAnswered(() => res.upgrade({ ...socketOptions, maxPayload: 1024 * 1024 }));
    ws?.on('message', (msg) => ws.send(msg.data, msg.binary));
  });

  app.use(express.static(publicDir, { index: 'index.html' }));
  return app;
}

// A request that is not a valid handshake (a plain GET on /chat, say) has already been answered
// with its 400/426 when upgrade() throws; there is nothing left to do with it.
function upgradeOrAnswered<T>(upgrade: () => T): T | undefined {
  try {
    return upgrade();
  } catch (err) {
    if (err instanceof WebSocketError) return undefined;
    throw err;
  }
}

/** Starts the chat on `port` (0: any free port); resolves once it is listening. */
export async function createChatServer(options: ChatOptions = {}): Promise<ChatServer> {
  const host = options.host ?? '127.0.0.1';
  const sessions = new Set<ChatSession>();
  const app = createChatApp(options, createRooms(options), sessions);
  const server = app.listen(options.port ?? 0, host);
  const router = attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;

  return {
    server,
    router,
    port,
    url: `http://${shown}:${port}/`,
    kick(name, reason = 'removed by the operator') {
      let count = 0;
      for (const session of sessions) {
        if (session.name === name) {
          session.kick(reason);
          count++;
        }
      }
      return count;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        // attach() makes server.close() close live WebSockets with 1001 first.
        server.close((err) => (err ? reject(err) : resolve()));
        // Browsers keep idle HTTP connections open for reuse; they would hold close() up.
        server.closeIdleConnections();
      });
    },
  };
}
