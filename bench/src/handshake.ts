/**
 * The generator's side of the opening handshake, shared by every kind of run: a raw `net`
 * connection, the request written by hand, the 101 and its accept key checked.
 */
import { connect, type Socket } from 'node:net';
import { BENCH_ACCEPT } from './wire.js';

/** A failure of the server under test (as opposed to a bug in the harness). */
export class BenchError extends Error {}

export function fail(message: string): never {
  throw new BenchError(message);
}

export interface Handshake {
  extensions: string;
  /** Bytes after the response head: the first frames, if the server was quick. */
  rest: Buffer;
}

/**
 * Checks a response head as far as it has arrived: null while incomplete, else the handshake
 * (the status, the accept key, no extension nobody offered) or what is wrong with it.
 */
function responseHead(head: string, deflate: boolean): Handshake | BenchError | null {
  const end = head.indexOf('\r\n\r\n');
  if (end === -1) return head.length > 16384 ? new BenchError('handshake response head over 16 KiB') : null;
  const lines = head.slice(0, end).split('\r\n');
  const status = lines[0]!;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  if (!/^HTTP\/1\.1 101\b/.test(status)) return new BenchError(`handshake refused: ${status}`);
  if (headers.get('sec-websocket-accept') !== BENCH_ACCEPT) {
    return new BenchError(`wrong Sec-WebSocket-Accept: ${headers.get('sec-websocket-accept')}`);
  }
  const extensions = headers.get('sec-websocket-extensions') ?? '';
  if (extensions && !deflate) return new BenchError(`server agreed to extensions nobody offered: ${extensions}`);
  return { extensions, rest: Buffer.from(head.slice(end + 4), 'latin1') };
}

/** Settles a handshake promise once, removing the temporary listeners. */
function settle(
  socket: Socket,
  resolve: (v: { socket: Socket; hs: Handshake }) => void,
  reject: (err: Error) => void,
  cleanup: () => void,
): (err: Error | null, hs?: Handshake) => void {
  let done = false;
  return (err, hs) => {
    if (done) return;
    done = true;
    cleanup();
    if (err) {
      socket.destroy();
      reject(err);
    } else {
      resolve({ socket, hs: hs! });
    }
  };
}

/**
 * Opens a connection and completes the handshake by hand, checking the status and the accept
 * key. Resolves once the 101 has arrived; later data comes as 'data' events. `dial` makes the
 * connection when it is not plain TCP (TLS, in the HTTP/2 group's HTTP/1.1 runs); a request
 * written before a TLS handshake finishes goes out once it has.
 */
export function openSocket(
  port: number,
  deflate: boolean,
  request: Buffer,
  dial: () => Socket = () => connect({ port, host: '127.0.0.1', noDelay: true }),
): Promise<{ socket: Socket; hs: Handshake }> {
  return new Promise((resolve, reject) => {
    const socket = dial();
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const hs = responseHead(head, deflate);
      if (hs !== null) done(hs instanceof BenchError ? hs : null, hs instanceof BenchError ? undefined : hs);
    };
    const onError = (err: Error): void => done(err);
    const onClose = (): void => done(new BenchError('connection closed during the handshake'));
    const done = settle(socket, resolve, reject, () => {
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
    });
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(request);
  });
}

/**
 * Like {@link openSocket}, for connections that receive a lot in small pieces: the socket reads
 * into `buffer` (net's `onread`), which skips the stream machinery and an allocation per read.
 * After the handshake every read goes to `onRead(buffer, length)`, which must be done with the
 * bytes when it returns, since the next read on any such socket overwrites them.
 */
export function openReader(
  port: number,
  request: Buffer,
  buffer: Buffer,
  onRead: (buf: Buffer, length: number) => void,
): Promise<{ socket: Socket; hs: Handshake }> {
  return new Promise((resolve, reject) => {
    let head: string | null = '';
    // Returning false would pause the socket; it never should.
    const callback = (length: number, buf: Uint8Array): boolean => {
      if (head === null) {
        onRead(buf as Buffer, length);
        return true;
      }
      head += (buf as Buffer).toString('latin1', 0, length);
      const hs = responseHead(head, false);
      if (hs === null) return true;
      head = null;
      done(hs instanceof BenchError ? hs : null, hs instanceof BenchError ? undefined : hs);
      return true;
    };
    const socket = connect({ port, host: '127.0.0.1', noDelay: true, onread: { buffer, callback } });
    const onError = (err: Error): void => done(err);
    const onClose = (): void => done(new BenchError('connection closed during the handshake'));
    const done = settle(socket, resolve, reject, () => {
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
    });
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(request);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
