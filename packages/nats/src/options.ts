import { BrokerBufferDefaults, ErrorCode, resolveBrokerBuffer } from '@wsup/core';
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { isValidPrefix } from './subjects.js';

/** Client options the broker sets itself (see broker.ts). */
export type ReservedConnectionOption = 'noEcho' | 'reconnect' | 'maxReconnectAttempts' | 'waitOnFirstConnect';

/** Options for {@link NatsBroker}. */
export interface NatsBrokerOptions {
  /**
   * Where NATS is: one `host:port` / `nats://` URL or several (members of a cluster; the client
   * fails over between them and learns the others from the cluster). Default `127.0.0.1:4222`.
   * Overrides `connection.servers`.
   */
  servers?: string | string[];
  /**
   * Further `@nats-io/transport-node` connection options (credentials, TLS, `name`,
   * `reconnectTimeWait`, `pingInterval`…). `noEcho`, `reconnect`, `maxReconnectAttempts` and
   * `waitOnFirstConnect` are the broker's: it reconnects forever and never wants its own messages.
   */
  connection?: Omit<NodeConnectionOptions, ReservedConnectionOption>;
  /**
   * The first tokens of every subject the broker uses (`<prefix>.t.<topic>`); hubs reach each
   * other only with the same prefix. Dot-separated tokens without wildcards or whitespace.
   * Default `'wsup'`.
   */
  prefix?: string;
  /**
   * Most messages published while NATS is unreachable that are kept to be sent once it is back.
   * Default 1,000.
   */
  maxBufferedMessages?: number;
  /**
   * Most bytes (payloads plus a header of about 20 bytes each) kept while NATS is unreachable.
   * Default 8 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * Seconds to wait, after reconnecting, for the other nodes to be back before sending the
   * buffered messages: the broker waits until every node it knew before the outage has
   * announced itself again, or this long. Default 5 (the client's default reconnect wait is
   * 2 s). 0 sends at once.
   */
  recoveryTimeout?: number;
}

/** Options after defaults and validation. */
export interface ResolvedBrokerOptions {
  connection: NodeConnectionOptions;
  prefix: string;
  maxBufferedMessages: number;
  maxBufferedBytes: number;
  recoveryTimeoutMs: number;
}

/** The defaults of {@link NatsBrokerOptions} (`recoveryTimeout` in seconds). */
export const NatsBrokerDefaults = {
  prefix: 'wsup',
  ...BrokerBufferDefaults,
} as const;

function optionError(message: string): RangeError & { code: ErrorCode } {
  const err = new RangeError(message) as RangeError & { code: ErrorCode };
  err.code = ErrorCode.InvalidOption;
  return err;
}

function isServers(value: unknown): value is string | string[] {
  return typeof value === 'string' || (Array.isArray(value) && value.length > 0 && value.every((s) => typeof s === 'string'));
}

export function resolveBrokerOptions(options: NatsBrokerOptions | undefined): ResolvedBrokerOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw optionError('NatsBroker options must be an object');
  const o = options ?? {};
  const prefix = o.prefix ?? NatsBrokerDefaults.prefix;
  if (typeof prefix !== 'string' || !isValidPrefix(prefix)) {
    throw optionError(`prefix must be dot-separated subject tokens without wildcards or whitespace, got ${JSON.stringify(prefix)}`);
  }
  const buffer = resolveBrokerBuffer(o);
  if (o.connection !== undefined && (typeof o.connection !== 'object' || o.connection === null)) {
    throw optionError('connection must be @nats-io/transport-node connection options');
  }
  if (o.servers !== undefined && !isServers(o.servers)) throw optionError('servers must be a URL or a non-empty array of URLs');
  const connection: NodeConnectionOptions = { ...o.connection };
  if (o.servers !== undefined) connection.servers = o.servers;
  return {
    connection,
    prefix,
    ...buffer,
  };
}
