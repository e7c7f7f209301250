/** The broadcast routes of the raw servers (raw-echo.ts, servers/raw-net-message.ts). */
import type { Socket } from 'node:net';

/** Connections to /sub, in the order they came, each until it closes. */
export const subscribers = new Set<Socket>();

/**
 * Routes a connection by its request path: one to `/sub` joins {@link subscribers}.
 * @returns whether it is the broadcast publisher (`/pub`).
 */
export function routeRaw(path: string, socket: Socket): boolean {
  if (path === '/pub') return true;
  if (path === '/sub') {
    subscribers.add(socket);
    socket.once('close', () => subscribers.delete(socket));
  }
  return false;
}
