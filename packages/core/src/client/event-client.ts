import { EventEmitter } from 'node:events';
import type { Message } from '../connection/message.js';
import { resolveOptions } from '../connection/options.js';
import type { WebSocket } from '../connection/websocket.js';
import { ErrorCode, rangeError, typeError, WebSocketError } from '../errors.js';
import type { SendData } from '../protocol/bytes.js';
import { CloseCode, MAX_CLOSE_REASON } from '../protocol/constants.js';
import { isValidCloseCode } from '../protocol/validation.js';
import { backoffDelay, resolveBackoff, type Backoff, type ReconnectOptions } from './backoff.js';
import { connect } from './connect.js';
import { clientExtensionOffers } from './negotiation.js';
import { resolveConnectOptions, type ConnectOptions } from './options.js';

/** Options for {@link createClient}: every {@link ConnectOptions} option except `signal`, plus `reconnect`. */
export interface ClientOptions extends Omit<ConnectOptions, 'signal'> {
  /**
   * Reconnect after a failed attempt or a dropped connection, with exponential backoff and full
   * jitter: `true` for the defaults, or settings (seconds). Default off. `close()` stops it.
   */
  reconnect?: boolean | ReconnectOptions;
}

/** Events of a {@link WebSocketClient}. */
export interface ClientEvents {
  /** A connection opened. */
  connection: [ws: WebSocket];
  /** A message arrived. */
  receive: [message: Message];
  /**
   * A connection ended or an attempt failed (code 1006 with the attempt's error). `error` is set
   * whenever something failed.
   */
  close: [code: number, reason: string, error: WebSocketError | undefined];
  /** Something failed; fires just before the `close` that carries the same error. Optional. */
  error: [error: WebSocketError];
  /** A retry is scheduled: retry number `attempt`, `delay` seconds from now. */
  reconnect: [attempt: number, delay: number];
}

/**
 * Where the client is: `idle` (never connected, or closed for good), `connecting`, `open`,
 * `closing` (after `close()`), `waiting` (a retry is scheduled).
 */
export type ClientState = 'idle' | 'connecting' | 'open' | 'closing' | 'waiting';

/** Failures that retrying cannot fix. */
const PERMANENT = new Set<string>([ErrorCode.InvalidUrl, ErrorCode.InvalidPort, ErrorCode.InvalidOption]);

function asWebSocketError(err: unknown): WebSocketError {
  if (err instanceof WebSocketError) return err;
  const code = (err as { code?: unknown } | null)?.code === ErrorCode.InvalidOption ? ErrorCode.InvalidOption : ErrorCode.ConnectFailed;
  return new WebSocketError(code, err instanceof Error ? err.message : String(err), { cause: err });
}

/**
 * An event-driven WebSocket client for code that would rather react than await: handlers for
 * `connection`, `receive` and `close`, `connect(url)`, `send`, `close`, and the same client, with
 * the same handlers, reusable after a close, so a long-lived device or service can reconnect
 * (optionally on its own, with backoff) without rewiring anything.
 */
export class WebSocketClient extends EventEmitter<ClientEvents> {
  private readonly connectOptions: Omit<ConnectOptions, 'signal'>;
  private readonly backoff: Backoff | undefined;
  private currentState: ClientState = 'idle';
  private currentUrl: string | URL | undefined;
  private current: WebSocket | undefined;
  private attempt: AbortController | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retries = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  /** Use {@link createClient}. */
  constructor(options: ClientOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw typeError('createClient options must be an object');
    if ((options as ConnectOptions).signal !== undefined)
      throw typeError('createClient does not take a signal: call client.close() to stop it');
    // Check every option now: a mistake is a bug to report at once, not a failed connection later.
    resolveConnectOptions(options);
    resolveOptions(options);
    clientExtensionOffers(options);
    const { reconnect, ...connectOptions } = options;
    this.backoff = resolveBackoff(reconnect);
    this.connectOptions = connectOptions;
  }

  /** Where the client is; see {@link ClientState}. */
  get state(): ClientState {
    return this.currentState;
  }

  /** The open WebSocket, or undefined when not connected. */
  get ws(): WebSocket | undefined {
    return this.currentState === 'open' || this.currentState === 'closing' ? this.current : undefined;
  }

  /** The URL given to the last `connect()`. */
  get url(): string | URL | undefined {
    return this.currentUrl;
  }

  /**
   * Connects to `url`. The outcome arrives as a `connection` event, or as a `close` event with
   * the typed error (an invalid URL included). Calling it while a retry is scheduled connects at
   * once instead (to the new URL).
   * @throws {WebSocketError} `ERR_CLIENT_BUSY` while connecting, open or closing.
   */
  connect(url: string | URL): this {
    if (this.currentState === 'connecting' || this.currentState === 'open' || this.currentState === 'closing') {
      throw new WebSocketError(ErrorCode.ClientBusy, `the client is ${this.currentState}; close() it before connecting again`);
    }
    this.cancelRetry();
    this.currentUrl = url;
    this.retries = 0;
    this.stopped = false;
    this.open();
    return this;
  }

  /**
   * Sends a message on the open connection (see `WebSocket.send`).
   * @returns false when there is no open connection (the message is dropped).
   */
  send(data: SendData, binary?: boolean): boolean {
    if (this.currentState !== 'open' || !this.current) return false;
    return this.current.send(data, binary);
  }

  /**
   * Closes the connection (or abandons the attempt in progress) and stops reconnecting. Resolves
   * once the client is idle, after the `close` event.
   */
  close(code: number = CloseCode.Normal, reason = ''): Promise<void> {
    if (typeof code !== 'number' || !isValidCloseCode(code)) throw rangeError(`invalid close code ${String(code)}`);
    if (typeof reason !== 'string' || Buffer.byteLength(reason) > MAX_CLOSE_REASON) {
      throw rangeError(`close reason must be a string of at most ${MAX_CLOSE_REASON} bytes`);
    }
    this.stopped = true;
    switch (this.currentState) {
      case 'idle':
        return Promise.resolve();
      case 'waiting':
        this.cancelRetry();
        this.becomeIdle();
        return Promise.resolve();
      case 'connecting':
        this.currentState = 'closing';
        this.attempt?.abort();
        break;
      case 'open':
        this.currentState = 'closing';
        void this.current!.close(code, reason);
        break;
      case 'closing':
        break;
    }
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private open(): void {
    this.currentState = 'connecting';
    const attempt = new AbortController();
    this.attempt = attempt;
    // Handlers run from nextTick, outside the promise chain: a handler that throws is an uncaught
    // exception like in any event handler, not an unhandled rejection.
    connect(this.currentUrl!, { ...this.connectOptions, signal: attempt.signal }).then(
      (ws) => process.nextTick(() => this.opened(ws, attempt)),
      (err: unknown) => process.nextTick(() => this.attemptFailed(err, attempt)),
    );
  }

  private opened(ws: WebSocket, attempt: AbortController): void {
    if (attempt !== this.attempt) {
      ws.terminate();
      return;
    }
    this.attempt = undefined;
    if (this.stopped) {
      // close() came too late to abort the handshake: end the connection it produced.
      this.current = ws;
      ws.once('close', (code, reason, error) => this.ended(code, reason, error));
      void ws.close();
      return;
    }
    this.retries = 0;
    this.current = ws;
    this.currentState = 'open';
    ws.on('message', (msg) => this.emit('receive', msg));
    ws.once('close', (code, reason, error) => this.ended(code, reason, error));
    this.emit('connection', ws);
  }

  private attemptFailed(err: unknown, attempt: AbortController): void {
    if (attempt !== this.attempt) return;
    this.attempt = undefined;
    const error = asWebSocketError(err);
    this.report(CloseCode.Abnormal, '', error, !PERMANENT.has(error.code));
  }

  private ended(code: number, reason: string, error: WebSocketError | undefined): void {
    this.current = undefined;
    this.report(code, reason, error, true);
  }

  /** Decides on a retry, then tells the handlers; they see the state that follows. */
  private report(code: number, reason: string, error: WebSocketError | undefined, retryable: boolean): void {
    let delayMs: number | undefined;
    let retry: NodeJS.Timeout | undefined;
    if (retryable && !this.stopped && this.backoff && this.retries < this.backoff.maxAttempts) {
      this.retries++;
      delayMs = backoffDelay(this.retries, this.backoff);
      this.currentState = 'waiting';
      retry = setTimeout(() => {
        if (this.retryTimer !== retry) return;
        this.retryTimer = undefined;
        this.open();
      }, delayMs);
      this.retryTimer = retry;
    } else {
      this.currentState = 'idle';
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    if (error && this.listenerCount('error') > 0) this.emit('error', error);
    this.emit('close', code, reason, error);
    // A handler may have called connect() or close(), which replaces or cancels the retry.
    if (retry !== undefined && this.currentState === 'waiting' && this.retryTimer === retry) {
      this.emit('reconnect', this.retries, delayMs! / 1000);
    }
    for (const resolve of waiters) resolve();
  }

  private cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private becomeIdle(): void {
    this.currentState = 'idle';
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * Creates an event-driven client that can reconnect (see {@link WebSocketClient}).
 *
 * @example
 * ```ts
 * const client = createClient({ reconnect: { initialDelay: 0.5, maxDelay: 10 } });
 * client.on('connection', () => client.send('hello'));
 * client.on('receive', (msg) => console.log(msg.data));
 * client.on('close', (code, reason, err) => console.log('closed', code, err?.code));
 * client.connect('ws://127.0.0.1:3000/echo');
 * ```
 * @throws {TypeError | RangeError} `ERR_INVALID_OPTION` for invalid options.
 */
export function createClient(options?: ClientOptions): WebSocketClient {
  return new WebSocketClient(options);
}
