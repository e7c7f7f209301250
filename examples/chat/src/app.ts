/**
 * The chat server: Express 5 serves the page from public/ and two WebSocket routes through
 * @wsup/express, /chat (the JSON chat protocol, see protocol.ts) and /echo (echoes text and
 * binary, for checking a client), and GET /stats, the server's WebSocket counters as JSON for the
 * page's live panel. Rooms live in memory, or in Redis when several chat processes serve the same
 * rooms (the `redis` option; see store.ts).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import { type RateLimitOptions, webSocketStats, type WebSocketStats } from '@wsup/core';
import { attach, WebSocketError, type UpgradeOptions, type UpgradeRouter } from '@wsup/express';
import { createMemoryRooms } from './memory-rooms.js';
import type { Rooms } from './rooms.js';
import { ChatSession } from './session.js';
import { type ChatBrokerOptions, openStore, type ChatRedisOptions } from './store.js';

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
  /**
   * Chat messages per connection, as core's `rateLimit` option (its `action` is always `'drop'`:
   * each message over it is answered with a `rate-limited` error and counts as a strike).
   * Default `{ messages: 20, per: 4 }`: 20 in a row, then 5 per second.
   */
  rateLimit?: Omit<RateLimitOptions, 'action'>;
  /** Refused messages a connection may send before it is closed with 1008. Default 5. */
  maxStrikes?: number;
  /** Where unexpected errors go. Default console.error. */
  log?: (message: string, err: unknown) => void;
  /**
   * Keep rooms (members, presence, history) in Redis and carry messages through it, so that
   * several chat processes serve the same rooms. Default: in this process's memory.
   */
  redis?: ChatRedisOptions | undefined;
  /**
   * Carry messages between chat processes through a Redis Cluster or NATS, without a shared
   * store: rooms' history and member lists are each process's own. Ignored with `redis`.
   */
  broker?: ChatBrokerOptions | undefined;
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

/**
 * `sessions` gets every chat connection while it runs, with the promise of its end (its room left).
 * `stats` is what GET /stats serves: the server's router's counters (`router.stats()`), or by
 * default the whole process's.
 */
export function createChatApp(
  options: ChatOptions = {},
  rooms: Rooms = createMemoryRooms(options),
  sessions = new Map<ChatSession, Promise<void>>(),
  stats: () => WebSocketStats = webSocketStats,
): Express {
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
    maxStrikes: options.maxStrikes ?? 5,
    log,
  };

  const app = express();
  app.disable('x-powered-by');

  // Room messages are published to many connections: without server context takeover the hub
  // compresses each once for all of them (and no connection keeps a compressor of its own).
  // maxPayload bounds what a browser may send; what the server sends (a joiner's history) is its
  // own, bounded by historySize and the text limit, so it is not held to that.
  const chatSocketOptions: UpgradeOptions = {
    ...socketOptions,
    compress: socketOptions.compress && { serverNoContextTakeover: true },
    maxSendPayload: Infinity,
    rateLimit: { ...(options.rateLimit ?? { messages: 20, per: 4 }), action: 'drop' },
  };

  app.get('/chat', (_req, res) => {
    const ws = upgradeOrAnswered(() => res.upgrade(chatSocketOptions));
    if (!ws) return;
    const session = new ChatSession(ws, sessionOptions);
    sessions.set(
      session,
      session.run().finally(() => sessions.delete(session)),
    );
  });

  app.get('/echo', (_req, res) => {
    const ws = upgradeOrAnswered(() => res.upgrade({ ...socketOptions, maxPayload: 1024 * 1024 }));
    ws?.on('message', (msg) => ws.send(msg.data, msg.binary));
  });

  // The page's live panel polls this every second: open connections, messages, and the bytes
  // compression saved (uncompressed − wire).
  app.get('/stats', (_req, res) => {
    res.set('Cache-Control', 'no-store').json(stats());
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

/**
 * Starts the chat on `port` (0: any free port); resolves once it is listening (and, with `redis`,
 * connected to Redis first, so that nothing is accepted that could not be shared).
 */
export async function createChatServer(options: ChatOptions = {}): Promise<ChatServer> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? ((message, err) => console.error(message, err));
  const store = await openStore(options, log);
  const sessions = new Map<ChatSession, Promise<void>>();
  // No request arrives before listening, and attach() runs before that.
  let router!: UpgradeRouter;
  const app = createChatApp(options, store.rooms, sessions, () => router.stats());
  const server = app.listen(options.port ?? 0, host);
  router = attach(server, { hub: store.hub });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;

  return {
    server,
    router,
    port,
    url: `http://${shown}:${port}/`,
    kick(name, reason = 'removed by the operator') {
      let count = 0;
      for (const session of sessions.keys()) {
        if (session.name === name) {
          session.kick(reason);
          count++;
        }
      }
      return count;
    },
    async close() {
      await new Promise<void>((resolve, reject) => {
        // attach() makes server.close() close live WebSockets with 1001 first.
        server.close((err) => (err ? reject(err) : resolve()));
        // Browsers keep idle HTTP connections open for reuse; they would hold close() up.
        server.closeIdleConnections();
      });
      // Their leaves go out (to other processes too) before the store lets go.
      await Promise.all(sessions.values());
      await store.close();
    },
  };
}
