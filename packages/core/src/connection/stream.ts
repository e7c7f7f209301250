import { Duplex, type DuplexOptions } from 'node:stream';
import { ErrorCode, WebSocketError } from '../errors.js';
import { CloseCode } from '../protocol/constants.js';
import type { CloseInfo, Message } from './message.js';
import { ReadyState } from './ready-state.js';
import type { WebSocket } from './websocket.js';

/** Options for {@link createWebSocketStream}: those of `new Duplex()`, and what the writes become. */
export interface WebSocketStreamOptions extends DuplexOptions {
  /**
   * What each write is sent as. By default as `ws.send()` decides: bytes as binary messages,
   * strings (kept as strings only with `decodeStrings: false`) as text. `true`: every write
   * binary. `false`: every write text, so the bytes of each write must be whole UTF-8 (a write
   * that splits a character fails the stream with `ERR_INVALID_UTF8`).
   */
  binary?: boolean;
}

/**
 * A WebSocket as a `node:stream` Duplex, like ws's `createWebSocketStream`, for `pipeline()` and
 * anything else that takes a stream.
 *
 * - Writes: each write becomes one message (see {@link WebSocketStreamOptions.binary}); a write
 *   completes once the WebSocket's `bufferedAmount` is below its `sendHighWaterMark`, so a fast
 *   writer waits for a slow network. `end()` closes the WebSocket with 1000.
 * - Reads: each message becomes a chunk (in `readableObjectMode`, a string for a text message
 *   and a Buffer for a binary one). When the stream's buffer is full the WebSocket is paused, so
 *   TCP pushes back on the peer; reading resumes when the stream is read.
 * - End: the readable side ends when the WebSocket closes normally (1000, or a close frame
 *   without a code); any other end (another code, a failure, no close handshake) destroys the
 *   stream with the WebSocket's error, or `ERR_STREAM_CLOSED`. WebSockets cannot half-close, so
 *   `allowHalfOpen` defaults to false here: when the readable side ends, so does the writable one.
 * - `destroy()` closes the WebSocket: with 1011 when given an error, else 1001 (either way the
 *   peer's stream sees an abnormal end, not a truncated normal one).
 *
 * Messages received before the stream is made are read first. Make one stream per WebSocket,
 * and read the WebSocket only through it.
 */
export function createWebSocketStream(ws: WebSocket, options?: WebSocketStreamOptions): Duplex {
  return new WebSocketStream(ws, options);
}

class WebSocketStream extends Duplex {
  /** The stream paused the WebSocket (its buffer is full), and so resumes it when read. */
  private pausedWs = false;
  private readonly sendBinary: boolean | undefined;
  private readonly onMessage = (msg: Message): void => {
    if (!this.push(msg.data) && !this.pausedWs) {
      this.pausedWs = true;
      this.ws.pause();
    }
  };

  constructor(
    private readonly ws: WebSocket,
    options: WebSocketStreamOptions | undefined,
  ) {
    // Writes are messages of bytes or text, never objects (as in ws).
    super({ allowHalfOpen: false, ...options, objectMode: false, writableObjectMode: false });
    this.sendBinary = options?.binary;
    // Messages already queued reach this first listener before any that arrive later.
    ws.on('message', this.onMessage);
    ws.closed.then((info) => this.wsClosed(info));
  }

  override _read(): void {
    if (!this.pausedWs) return;
    this.pausedWs = false;
    this.ws.resume();
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const ws = this.ws;
    if (!ws.canSend()) {
      callback(new WebSocketError(ErrorCode.NotOpen, 'cannot write: the WebSocket is closing or closed'));
      return;
    }
    let belowMark: boolean;
    try {
      belowMark = ws.send(chunk, this.sendBinary);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (belowMark) callback();
    else ws.drained().then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.ws.readyState === ReadyState.Closed) callback();
    else this.ws.close(CloseCode.Normal).then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    const ws = this.ws;
    ws.off('message', this.onMessage);
    // Messages that arrive while the close handshake runs are left unread, but the peer's close
    // frame must still be read.
    if (this.pausedWs) ws.resume();
    if (ws.readyState !== ReadyState.Closed) void ws.close(err ? CloseCode.InternalError : CloseCode.GoingAway);
    callback(err);
  }

  private wsClosed(info: CloseInfo): void {
    if (this.destroyed) return;
    if (info.error === undefined && info.wasClean && (info.code === CloseCode.Normal || info.code === CloseCode.NoStatus)) {
      this.push(null);
      return;
    }
    const how = info.wasClean ? `with code ${info.code}` : 'without a close handshake';
    this.destroy(info.error ?? new WebSocketError(ErrorCode.StreamClosed, `the WebSocket under the stream closed ${how}`));
  }
}
