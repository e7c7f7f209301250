import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { rememberPeer } from './peer-address.js';

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

/**
 * Hands `socket`'s events to `owner` from now on, and keeps the peer's address for the socket's
 * life ({@link rememberPeer}).
 */
export function bindSocket(socket: Duplex, owner: SocketOwner): void {
  rememberPeer(socket);
  const s = socket as OwnedSocket;
  s[kOwner] = owner;
  s.on('data', onData);
  s.on('end', onEnd);
  s.on('error', onError);
  s.on('close', onClose);
  s.on('drain', onDrain);
}

/**
 * Whether what `socket` does not keep once write() has returned was copied out: true of a plain
 * TCP (or IPC) socket, whose write() hands the bytes to the kernel or keeps the Buffer until it
 * can. Not of TLS, which encrypts and writes asynchronously, nor of streams that pass the Buffer
 * on (an in-memory pair, an HTTP/2 stream). The sender frames such a socket's small batches in a
 * Buffer it reuses (see `Sender`).
 */
export function copiesOnWrite(socket: Duplex): boolean {
  return socket instanceof Socket && (socket as Socket & { encrypted?: boolean }).encrypted !== true;
}

/** The connection a socket is bound to, if any. */
export function ownerOf(socket: Duplex): SocketOwner | undefined {
  return (socket as OwnedSocket)[kOwner];
}

/** RST_STREAM's CANCEL (RFC 9113 §7): the stream is no longer needed. */
const H2_CANCEL = 0x8;

/**
 * Ends a connection abruptly: destroys a TCP socket, or resets an HTTP/2 stream with CANCEL, so
 * that the peer sees an abnormal end (a plain destroy() would reset it with NO_ERROR, which reads
 * as a clean one). The session of an HTTP/2 stream goes on.
 */
export function abort(socket: Duplex): void {
  const stream = socket as Duplex & { rstCode?: number; close?: (code: number) => void };
  if (stream.rstCode !== undefined && typeof stream.close === 'function' && !stream.destroyed) stream.close(H2_CANCEL);
  socket.destroy();
}

/** Bytes written and not yet taken by the peer above which a connection closed for abuse is dropped. */
const ABANDON_BYTES = 64 * 1024;

/**
 * Drops the connection of a peer that has not read what the socket already holds: a close frame
 * behind it would not be read before the close timeout, and the buffer would be held till then.
 */
export function abandonIfBacklogged(socket: Duplex): void {
  if (socket.writableLength > ABANDON_BYTES) abort(socket);
}
