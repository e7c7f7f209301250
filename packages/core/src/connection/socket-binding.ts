import type { Duplex } from 'node:stream';

/** What a socket's events are handed to: its connection. */
export interface SocketOwner {
  handleData(chunk: Buffer): void;
  handleEnd(): void;
  handleSocketError(err: Error): void;
  handleSocketClose(): void;
  /** The socket emitted 'drain'. */
  handleDrain(): void;
}

const kOwner = Symbol('wsup.websocket');
type OwnedSocket = Duplex & { [kOwner]?: SocketOwner };

// Shared listener functions that find their connection through the socket, so a connection
// costs no closures.
function onData(this: OwnedSocket, chunk: Buffer): void {
  this[kOwner]!.handleData(chunk);
}
function onEnd(this: OwnedSocket): void {
  this[kOwner]!.handleEnd();
}
function onError(this: OwnedSocket, err: Error): void {
  this[kOwner]!.handleSocketError(err);
}
function onDrain(this: OwnedSocket): void {
  this[kOwner]!.handleDrain();
}
function onClose(this: OwnedSocket): void {
  this[kOwner]!.handleSocketClose();
}

/** Hands `socket`'s events to `owner` from now on. */
export function bindSocket(socket: Duplex, owner: SocketOwner): void {
  const s = socket as OwnedSocket;
  s[kOwner] = owner;
  s.on('data', onData);
  s.on('end', onEnd);
  s.on('error', onError);
  s.on('close', onClose);
  s.on('drain', onDrain);
}

/** The connection a socket is bound to, if any. */
export function ownerOf(socket: Duplex): SocketOwner | undefined {
  return (socket as OwnedSocket)[kOwner];
}
