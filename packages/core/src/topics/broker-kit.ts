/**
 * What every cross-process {@link Broker} (`@wsup/redis`, `@wsup/nats`) needs the same way: the
 * bytes a message travels as, the bounded buffer that holds publishes while the broker is
 * unreachable, the options that bound it, and the errors it reports. In core, so that the brokers
 * agree on the wire format and `instanceof DroppedMessageError` holds whichever broker threw it.
 */
import { publishBrokerError, warn, WarningCode } from '../diagnostics.js';
import { ErrorCode, rangeError, WebSocketError } from '../errors.js';
import { checkObject } from '../option-validators.js';

const VERSION = 1;
const FLAG_BINARY = 0x01;
const FIXED = 3;

/** A message from another hub, as {@link MessageEnvelope.decodeForeign} found it. */
export interface ForeignMessage {
  /** The payload: a view of the message, not a copy. */
  payload: Buffer;
  binary: boolean;
  /** The publishing hub's id, as UTF-8 bytes (a view; `toString()` when needed). */
  sender: Buffer;
}

/**
 * The bytes a message travels as between hubs: a small header naming the publishing hub and
 * whether the payload is binary, then the payload itself, untouched (no base64, no JSON). A byte
 * prefix rather than a broker's own headers (NATS headers are MIME-style text), so every broker
 * carries it the same way for 3 bytes plus the node id.
 *
 * ```
 * byte 0      format version (1)
 * byte 1      flags: bit 0 = binary
 * byte 2      n = length of the node id in bytes (1..255)
 * bytes 3..   the node id (UTF-8), then the payload
 * ```
 */
export class MessageEnvelope {
  private readonly id: Buffer;
  private readonly header: Buffer;

  /** @throws RangeError for a node id that does not take 1 to 255 bytes of UTF-8. */
  constructor(nodeId: string) {
    this.id = Buffer.from(nodeId, 'utf8');
    if (this.id.length < 1 || this.id.length > 255) throw rangeError('a node id must take 1 to 255 bytes');
    this.header = Buffer.concat([Buffer.from([VERSION, 0, this.id.length]), this.id]);
  }

  /** A copy of `payload` behind this node's header: the caller may reuse its buffer afterwards. */
  encode(payload: Uint8Array, binary: boolean): Buffer {
    const h = this.header.length;
    const out = Buffer.allocUnsafe(h + payload.length);
    this.header.copy(out, 0);
    out[1] = binary ? FLAG_BINARY : 0;
    out.set(payload, h);
    return out;
  }

  /**
   * A message published by another node; null for this node's own messages and for anything
   * that is not an envelope of this format (another program publishing on the same channels).
   */
  decodeForeign(message: Uint8Array): ForeignMessage | null {
    if (message.length < FIXED || message[0] !== VERSION) return null;
    const n = message[2]!;
    const start = FIXED + n;
    if (n === 0 || message.length < start) return null;
    const bytes = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.length);
    if (n === this.id.length && bytes.compare(this.id, 0, n, FIXED, start) === 0) return null;
    return { payload: bytes.subarray(start), binary: (bytes[1]! & FLAG_BINARY) !== 0, sender: bytes.subarray(FIXED, start) };
  }
}

/**
 * Publishes waiting for a broker to be reachable (or to catch up), in order, bounded by a message
 * count and a byte count, whichever is reached first. `T` is what the broker needs to send one
 * later (its channel or subject), with the encoded `message`.
 */
export class BrokerOutbox<T extends { message: Uint8Array }> {
  private queue: T[] = [];
  private byteCount = 0;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {}

  /** Messages waiting. */
  get size(): number {
    return this.queue.length;
  }

  /** Bytes of the messages waiting. */
  get bytes(): number {
    return this.byteCount;
  }

  /** The messages waiting, oldest first (not a copy: do not change it). */
  get items(): readonly T[] {
    return this.queue;
  }

  /** Queues `item`; false (and nothing queued) when it does not fit under the bounds. */
  push(item: T): boolean {
    if (this.queue.length + 1 > this.maxMessages || this.byteCount + item.message.length > this.maxBytes) return false;
    this.queue.push(item);
    this.byteCount += item.message.length;
    return true;
  }

  /** The oldest message, left in place. */
  peek(): T | undefined {
    return this.queue[0];
  }

  /** Removes and returns the oldest message. */
  shift(): T | undefined {
    const item = this.queue.shift();
    if (item) this.byteCount -= item.message.length;
    return item;
  }

  /** Removes and returns everything, oldest first. */
  takeAll(): T[] {
    const out = this.queue;
    this.queue = [];
    this.byteCount = 0;
    return out;
  }
}

/** The options every broker has for its outage buffer. */
export interface BrokerBufferOptions {
  /** Messages kept while the broker is unreachable or behind. Default 1,000. */
  maxBufferedMessages?: number;
  /** Bytes kept while the broker is unreachable or behind (payloads plus ~20 bytes each). Default 8 MiB. */
  maxBufferedBytes?: number;
  /**
   * Seconds to wait after reconnecting for the other nodes to be subscribed again before sending
   * what was buffered. Default 5; 0 sends at once.
   */
  recoveryTimeout?: number;
}

/** The defaults of {@link BrokerBufferOptions} (`recoveryTimeout` in seconds). */
export const BrokerBufferDefaults = {
  maxBufferedMessages: 1000,
  maxBufferedBytes: 8 * 1024 * 1024,
  recoveryTimeout: 5,
} as const;

/** {@link BrokerBufferOptions} after defaults and validation. */
export interface ResolvedBrokerBuffer {
  maxBufferedMessages: number;
  maxBufferedBytes: number;
  recoveryTimeoutMs: number;
}

function wholeNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw rangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * Validates a broker's buffer options and applies the defaults.
 * @throws RangeError/TypeError with `code: 'ERR_INVALID_OPTION'` naming the option.
 */
export function resolveBrokerBuffer(options: BrokerBufferOptions | undefined): ResolvedBrokerBuffer {
  const o = checkObject(options, 'broker options') as BrokerBufferOptions;
  const recovery = o.recoveryTimeout ?? BrokerBufferDefaults.recoveryTimeout;
  // At most what setTimeout can wait (2^31 - 1 ms).
  if (typeof recovery !== 'number' || !Number.isFinite(recovery) || recovery < 0 || recovery > 2_147_483) {
    throw rangeError(`recoveryTimeout must be a number of seconds (0 or more), got ${String(recovery)}`);
  }
  return {
    maxBufferedMessages: wholeNumber(o.maxBufferedMessages, 'maxBufferedMessages', BrokerBufferDefaults.maxBufferedMessages),
    maxBufferedBytes: wholeNumber(o.maxBufferedBytes, 'maxBufferedBytes', BrokerBufferDefaults.maxBufferedBytes),
    recoveryTimeoutMs: recovery * 1000,
  };
}

/**
 * A message that did not go to the other nodes: published while the broker was unreachable and
 * its buffer full, still buffered when the broker closed, or refused by the broker. Local
 * subscribers got it; other nodes did not. `code` is `ERR_BROKER_UNAVAILABLE`, like every broker
 * failure, so `err.code` checks need not know this class.
 */
export class DroppedMessageError extends WebSocketError {
  /** The topic of the message (for errors about several messages, the first one's). */
  readonly topic: string;
  /** How many messages this error is about. */
  readonly count: number;

  constructor(topic: string, count: number, message: string, cause?: unknown) {
    super(ErrorCode.BrokerUnavailable, message, cause === undefined ? {} : { cause });
    this.topic = topic;
    this.count = count;
  }
}

/** The broker cannot reach its server (reported to the hub once per outage). */
export function brokerUnavailable(message: string, cause?: unknown): WebSocketError {
  return new WebSocketError(ErrorCode.BrokerUnavailable, message, cause === undefined ? {} : { cause });
}

/** The message of anything thrown: an Error's message, or the value as a string. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The error a broker reports once per outage: `server` ("Redis", "NATS") cannot be reached, why
 * (the last connection error, if any), and how much it buffers meanwhile.
 */
export function brokerOutage(server: string, cause: unknown, buffer: ResolvedBrokerBuffer): WebSocketError {
  const why = cause === undefined ? '' : ` (${errorMessage(cause)})`;
  const bounds = `${buffer.maxBufferedMessages} messages or ${buffer.maxBufferedBytes} bytes`;
  const err = brokerUnavailable(`cannot reach ${server}${why}: reconnecting; publishes are buffered meanwhile, up to ${bounds}`, cause);
  outages.set(
    err,
    `cannot reach ${server}${why}: messages published in this process reach only its own subscribers until ${server} is back (up to ${bounds} are kept for the other nodes meanwhile)`,
  );
  return err;
}

/** The warning of each outage error {@link brokerOutage} made, given when a hub is told of it. */
const outages = new WeakMap<WebSocketError, string>();

/**
 * A broker's error reaches its hub: published on `wsup:broker:error`, and an outage (an error of
 * {@link brokerOutage}) is a `WSUP_BROKER_UNAVAILABLE` warning as well, since delivery goes on,
 * lessened, whether or not anyone handles the hub's `error` event.
 * @returns whether the error was an outage.
 * @internal
 */
export function brokerFailed(broker: string, err: WebSocketError): boolean {
  publishBrokerError(broker, err, err instanceof DroppedMessageError ? err.topic : undefined);
  const warning = outages.get(err);
  if (warning !== undefined) warn(WarningCode.BrokerUnavailable, warning);
  return warning !== undefined;
}

/** Unpaired surrogates: a topic with one has no UTF-8 form of its own (it would share it with others). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Checks that `topic` can travel over `server` under a name of its own: brokers name channels and
 * subjects by the topic's UTF-8 bytes.
 * @throws {WebSocketError} `ERR_INVALID_TOPIC` for a topic with unpaired surrogates.
 */
export function checkTopicEncodable(topic: string, server: string): void {
  if (LONE_SURROGATE.test(topic)) {
    throw new WebSocketError(
      ErrorCode.InvalidTopic,
      `a topic with unpaired surrogates cannot be carried over ${server} (its UTF-8 form would not be its own)`,
    );
  }
}
