import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** The peer's end of the network connection a WebSocket runs on, as `net.Socket` names it. */
export interface RemoteEnd {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly remoteFamily?: string | undefined;
}

const kRemote = Symbol('wsup.remote');
type Http2Stream = Duplex & { session?: { socket?: RemoteEnd } | undefined; [kRemote]?: RemoteEnd };

/**
 * Reads the peer's address while the connection is open, so that it can still be read once it has
 * closed (users log it in their close handlers), at no cost to the WebSocket object:
 *
 * - A TCP or TLS socket forgets its peer once destroyed, unless it was asked before: Node keeps
 *   the first answer of getpeername(2). Asking now keeps it for the socket's life.
 * - An HTTP/2 stream (RFC 8441) loses its session when it closes, and a closed session its
 *   socket: the stream keeps a copy of its session socket's address.
 * - Any other stream (an in-memory pair) has no peer on a network.
 */
export function rememberPeer(socket: Duplex): void {
  if (socket instanceof Socket) {
    void socket.remoteAddress;
    return;
  }
  const stream = socket as Http2Stream;
  const tcp = stream.session?.socket;
  if (tcp === undefined) return;
  stream[kRemote] = { remoteAddress: tcp.remoteAddress, remotePort: tcp.remotePort, remoteFamily: tcp.remoteFamily };
}

/** The peer's address as {@link rememberPeer} kept it: undefined for a stream not on a network. */
export function peerOf(socket: Duplex): RemoteEnd | undefined {
  return socket instanceof Socket ? socket : (socket as Http2Stream)[kRemote];
}

/** Puts `remoteAddress`, `remotePort` and `remoteFamily` on the WebSocket prototype, as getters of what {@link rememberPeer} kept. */
export function definePeerGetters(prototype: { readonly socket: Duplex }): void {
  for (const name of ['remoteAddress', 'remotePort', 'remoteFamily'] as const) {
    Object.defineProperty(prototype, name, {
      get(this: { readonly socket: Duplex }) {
        return peerOf(this.socket)?.[name];
      },
      configurable: true,
    });
  }
}
