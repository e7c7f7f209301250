/**
 * The diagnostics channels wsup publishes on (`node:diagnostics_channel`, named in undici's style)
 * and the warnings it gives when it carries on in a lesser way. At the bottom of the layers, so
 * that every layer can publish: the messages that name a WebSocket or a request are declared
 * where they are published (`connection/`, `server/`), the others here.
 *
 * Publishing costs nothing while nobody listens: every publisher checks `hasSubscribers` first
 * and builds no message otherwise, and nothing is published on the paths that carry messages.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { ErrorCode, WebSocketError } from './errors.js';

/**
 * The names of the diagnostics channels wsup publishes on. Subscribe with
 * `diagnostics_channel.subscribe(channels.close, (message) => …)`; each channel's message type is
 * named below.
 *
 * | channel | published when | message |
 * | --- | --- | --- |
 * | `wsup:websocket:open` | a WebSocket opened (either side) | {@link WebSocketOpenMessage} |
 * | `wsup:websocket:close` | a WebSocket closed | {@link WebSocketCloseMessage} |
 * | `wsup:websocket:error` | a WebSocket reported an error (`error` event, `ws.error`) | {@link WebSocketErrorMessage} |
 * | `wsup:handshake:refused` | the server refused an opening handshake | {@link HandshakeRefusedMessage} |
 * | `wsup:broker:error` | a broker (`@wsup/redis`, `@wsup/nats`) reported an error to its hub | {@link BrokerErrorMessage} |
 * | `wsup:warning` | wsup carries on in a lesser way (see {@link WarningCode}) | {@link WarningMessage} |
 */
export const channels = {
  open: 'wsup:websocket:open',
  close: 'wsup:websocket:close',
  error: 'wsup:websocket:error',
  handshakeRefused: 'wsup:handshake:refused',
  brokerError: 'wsup:broker:error',
  warning: 'wsup:warning',
} as const;

/** The name of a channel wsup publishes on (a value of {@link channels}). */
export type WsupChannel = (typeof channels)[keyof typeof channels];

// Held here for the life of the process: diagnostics_channel keeps channels only weakly, and a
// publisher needs the same object its subscribers were added to.
/** @internal */
export const openChannel = diagnosticsChannel.channel(channels.open);
/** @internal */
export const closeChannel = diagnosticsChannel.channel(channels.close);
/** @internal */
export const errorChannel = diagnosticsChannel.channel(channels.error);
/** @internal */
export const refusedChannel = diagnosticsChannel.channel(channels.handshakeRefused);
/** @internal */
export const brokerErrorChannel = diagnosticsChannel.channel(channels.brokerError);
/** @internal */
export const warningChannel = diagnosticsChannel.channel(channels.warning);

/**
 * The codes of wsup's warnings: a process warning (`process.on('warning')`, type `WsupWarning`),
 * given once per code per process, and a {@link WarningMessage} on `wsup:warning` each time.
 */
export const WarningCode = {
  /**
   * This Node does not expose the synchronous zlib contexts permessage-deflate is built on:
   * WebSockets open without compression (servers do not accept it, clients do not offer it).
   */
  CompressionUnavailable: 'WSUP_COMPRESSION_UNAVAILABLE',
  /**
   * A broker cannot reach its server: published messages reach only this process's subscribers
   * (and are buffered, within bounds, for the others) until it is back. Once per outage.
   */
  BrokerUnavailable: 'WSUP_BROKER_UNAVAILABLE',
  /**
   * The process held more than its memory budget (`setMemoryBudget`) and closed the connections
   * holding the most (1013). Once per check that closed any.
   */
  MemoryBudgetExceeded: 'WSUP_MEMORY_BUDGET_EXCEEDED',
} as const;
/** The code of a wsup warning (a value of {@link WarningCode}). */
export type WarningCode = (typeof WarningCode)[keyof typeof WarningCode];

/** The message on `wsup:warning`. */
export interface WarningMessage {
  /** Which degradation (see {@link WarningCode}). */
  code: WarningCode;
  /** What happened and what it means, for a log line. */
  message: string;
}

/**
 * The message on `wsup:handshake:refused`: the server answered an opening handshake with an
 * error instead of a WebSocket: `upgrade()`'s 400, 403, 405, 426 and 500, and the router's 503
 * (over `maxConnections`, or a request handler that never answered).
 */
export interface HandshakeRefusedMessage {
  /** The request refused (over HTTP/2, the extended CONNECT). */
  request: IncomingMessage | Http2ServerRequest;
  /** The HTTP status it was answered with. */
  status: number;
  /** Why, as a stable code (`ERR_HANDSHAKE_ORIGIN`, `ERR_TOO_MANY_CONNECTIONS`, …). */
  code: ErrorCode;
  /** The error: `upgrade()`'s, or the one the router emits as `refused`. */
  error: WebSocketError;
}

/** The message on `wsup:broker:error`: every error a broker reports to its hub. */
export interface BrokerErrorMessage {
  /** Which broker: `'redis'`, `'nats'`, or the name another broker gives itself. */
  broker: string;
  /**
   * The error, as the hub gets it (`ERR_BROKER_UNAVAILABLE`; a `DroppedMessageError` for
   * messages that did not go to the other nodes).
   */
  error: WebSocketError;
  /** The topic the error is about, when it is about one (a dropped message's). */
  topic?: string;
}

const warned = new Set<string>();

/**
 * Reports that wsup carries on in a lesser way: a message on `wsup:warning` each time, and a
 * process warning (type `WsupWarning`) the first time per code, so a log shows it without
 * filling up.
 * @internal
 */
export function warn(code: WarningCode, message: string): void {
  if (warningChannel.hasSubscribers) warningChannel.publish({ code, message } satisfies WarningMessage);
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { type: 'WsupWarning', code });
}

/**
 * Publishes a broker's error on `wsup:broker:error` (when someone listens).
 * @internal
 */
export function publishBrokerError(broker: string, error: WebSocketError, topic: string | undefined): void {
  if (!brokerErrorChannel.hasSubscribers) return;
  const message: BrokerErrorMessage = { broker, error };
  if (topic !== undefined) message.topic = topic;
  brokerErrorChannel.publish(message);
}
