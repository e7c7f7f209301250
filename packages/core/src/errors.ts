/**
 * Stable machine-readable error codes. The string values are part of the public API: match on
 * `err.code`, never on the message.
 */
export const ErrorCode = {
  // Server handshake rejections (each carries the HTTP status that was sent).
  BadMethod: 'ERR_HANDSHAKE_METHOD',
  BadHttpVersion: 'ERR_HANDSHAKE_HTTP_VERSION',
  MissingHost: 'ERR_HANDSHAKE_HOST',
  NotUpgrade: 'ERR_HANDSHAKE_NOT_UPGRADE',
  BadConnectionHeader: 'ERR_HANDSHAKE_CONNECTION',
  BadKey: 'ERR_HANDSHAKE_KEY',
  UnsupportedVersion: 'ERR_HANDSHAKE_VERSION',
  BadProtocolHeader: 'ERR_HANDSHAKE_PROTOCOL',
  BadExtensionsHeader: 'ERR_HANDSHAKE_EXTENSIONS',
  OriginForbidden: 'ERR_HANDSHAKE_ORIGIN',
  AlreadyUpgraded: 'ERR_ALREADY_UPGRADED',
  UpgradeNotRouted: 'ERR_UPGRADE_NOT_ROUTED',
  /**
   * A framework adapter's setup step was skipped (`attach(server)`, `app.register(wsup)`,
   * `app.use(websockets())`): thrown, with status 500, by the first `upgrade()` or `isUpgrade`
   * that needs it, and the message names the step.
   */
  SetupMissing: 'ERR_SETUP_MISSING',
  /**
   * The router already holds `maxConnections` WebSockets and upgrades in progress, or
   * `maxConnectionsPerAddress` from the client's address: answered 503 with `Retry-After`
   * before any request handler ran (see `handleUpgrades`).
   */
  TooManyConnections: 'ERR_TOO_MANY_CONNECTIONS',
  /**
   * A routed upgrade request's handler neither upgraded nor answered it within `upgradeTimeout`:
   * the router answered 503 (reported on `wsup:handshake:refused` and in the counters).
   */
  UpgradeTimeout: 'ERR_UPGRADE_TIMEOUT',

  // Protocol violations by the peer (each carries the close code that was sent).
  InvalidOpcode: 'ERR_INVALID_OPCODE',
  ReservedBits: 'ERR_RESERVED_BITS',
  UnmaskedFrame: 'ERR_UNMASKED_FRAME',
  MaskedFrame: 'ERR_MASKED_FRAME',
  ControlFrameTooLong: 'ERR_CONTROL_FRAME_TOO_LONG',
  FragmentedControlFrame: 'ERR_FRAGMENTED_CONTROL_FRAME',
  UnexpectedContinuation: 'ERR_UNEXPECTED_CONTINUATION',
  ExpectedContinuation: 'ERR_EXPECTED_CONTINUATION',
  InvalidLength: 'ERR_INVALID_LENGTH',
  InvalidCloseCode: 'ERR_INVALID_CLOSE_CODE',
  InvalidClosePayload: 'ERR_INVALID_CLOSE_PAYLOAD',
  InvalidUtf8: 'ERR_INVALID_UTF8',
  PayloadTooLarge: 'ERR_PAYLOAD_TOO_LARGE',
  TooManyFragments: 'ERR_TOO_MANY_FRAGMENTS',
  InvalidCompressedData: 'ERR_INVALID_COMPRESSED_DATA',

  // Local API misuse and runtime conditions.
  NotOpen: 'ERR_NOT_OPEN',
  FragmentedSendInProgress: 'ERR_FRAGMENTED_SEND_IN_PROGRESS',
  /**
   * `send()`, `sendFrame()` or `publish()` from a WebSocket was given more bytes than the
   * connection's `maxSendPayload` (by default its `maxPayload`): thrown, nothing is sent and the
   * connection stays open. (A received message over `maxPayload` is `ERR_PAYLOAD_TOO_LARGE`.)
   */
  MessageTooBig: 'ERR_MESSAGE_TOO_BIG',
  /** The peer sent more than the `rateLimit` option allows, with `action: 'close'` (closed with 1008). */
  RateLimited: 'ERR_RATE_LIMITED',
  InvalidOption: 'ERR_INVALID_OPTION',
  Timeout: 'ERR_TIMEOUT',
  HeartbeatTimeout: 'ERR_HEARTBEAT_TIMEOUT',
  BufferOverflow: 'ERR_BUFFER_OVERFLOW',
  /** The process held more buffered bytes than its memory budget and this connection held the most (closed with 1013). */
  MemoryBudget: 'ERR_MEMORY_BUDGET',
  InvalidTopic: 'ERR_INVALID_TOPIC',
  HubClosed: 'ERR_HUB_CLOSED',
  BrokerUnavailable: 'ERR_BROKER_UNAVAILABLE',
  ConnectionReset: 'ERR_CONNECTION_RESET',

  // The JSON helpers (`sendJson`, `receiveJson`, `jsonMessages`): the application's messages,
  // not protocol violations, so the connection stays open.
  /** `sendJson()` was given a value JSON cannot encode (a BigInt, a cycle, `undefined`, a function): nothing is sent. */
  JsonUnencodable: 'ERR_JSON_UNENCODABLE',
  /** A message read as JSON is not valid JSON text (RFC 8259). */
  JsonSyntax: 'ERR_JSON_SYNTAX',
  /** A message read as JSON is binary: JSON messages are text messages, as `sendJson()` sends them. */
  JsonBinary: 'ERR_JSON_BINARY',
  /** A JSON message that the type guard given to `receiveJson()` or `jsonMessages()` refused. */
  JsonRejected: 'ERR_JSON_REJECTED',
  /**
   * The WebSocket under a stream (`createWebSocketStream`) closed other than normally (a code
   * other than 1000 or 1005, or no close handshake): the stream may have been cut short.
   */
  StreamClosed: 'ERR_STREAM_CLOSED',

  // Client connection failures (`connect()` and `createClient()`). Response errors carry the
  // HTTP `status` that was received.
  InvalidUrl: 'ERR_INVALID_URL',
  InvalidPort: 'ERR_INVALID_PORT',
  DnsLookupFailed: 'ERR_DNS_LOOKUP',
  ConnectionRefused: 'ERR_CONNECTION_REFUSED',
  ConnectFailed: 'ERR_CONNECT_FAILED',
  ConnectTimeout: 'ERR_CONNECT_TIMEOUT',
  Aborted: 'ERR_ABORTED',
  TlsFailed: 'ERR_TLS',
  HandshakeClosed: 'ERR_HANDSHAKE_CLOSED',
  ResponseHeadTooLarge: 'ERR_RESPONSE_HEAD_TOO_LARGE',
  MalformedResponse: 'ERR_MALFORMED_RESPONSE',
  NotSwitchingProtocols: 'ERR_NOT_SWITCHING_PROTOCOLS',
  ResponseUpgrade: 'ERR_RESPONSE_UPGRADE',
  ResponseConnection: 'ERR_RESPONSE_CONNECTION',
  BadAcceptKey: 'ERR_BAD_ACCEPT_KEY',
  SubprotocolMismatch: 'ERR_SUBPROTOCOL_MISMATCH',
  ExtensionMismatch: 'ERR_EXTENSION_MISMATCH',
  ClientBusy: 'ERR_CLIENT_BUSY',
  /** The HTTP/2 server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3). */
  NoExtendedConnect: 'ERR_HTTP2_NO_EXTENDED_CONNECT',
  /** The HTTP/2 server reset the WebSocket's stream before answering it (REFUSED_STREAM or another error). */
  StreamRefused: 'ERR_HTTP2_STREAM_REFUSED',
  /** The HTTP/2 session was sent GOAWAY, or closed, before the WebSocket's stream was answered. */
  SessionGoingAway: 'ERR_HTTP2_GOAWAY',
  /** The framework cannot serve WebSockets over HTTP/2 (an adapter says which and what to use instead). */
  Http2Unsupported: 'ERR_HTTP2_UNSUPPORTED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Extra facts an error may carry. */
export interface WebSocketErrorDetails {
  /** The close code sent to the peer because of this error. */
  closeCode?: number;
  /** The HTTP status sent (server handshake) or received (client handshake). */
  status?: number;
  cause?: unknown;
}

/**
 * Every failure wsup reports is a `WebSocketError` with a stable {@link ErrorCode}.
 *
 * @example
 * ```ts
 * try { upgrade(req, res) } catch (err) {
 *   if (err instanceof WebSocketError && err.code === ErrorCode.OriginForbidden) …
 * }
 * ```
 */
export class WebSocketError extends Error {
  override readonly name = 'WebSocketError';
  readonly code: ErrorCode;
  readonly closeCode: number | undefined;
  /** The HTTP status sent (server handshake) or received (client handshake). */
  readonly status: number | undefined;
  /**
   * The status a server sent, under the name Fastify's and Express's error handlers and
   * http-errors read: an error handler written the usual way (`res.status(err.statusCode || 500)`)
   * answers a refused handshake with its own status (426, 400, …), not 500. Undefined on a client's
   * `HandshakeResponseError`, whose `status` is what a server answered it, not an answer to relay.
   */
  readonly statusCode: number | undefined;
  /**
   * Whether the message is safe to show the client, as http-errors defines it: true for a 4xx
   * `status` (the client's mistake, described in terms of its own request), false otherwise.
   * Koa, for one, sends an exposed error's message and does not log it as a server error.
   */
  readonly expose: boolean;

  constructor(code: ErrorCode, message: string, details: WebSocketErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.closeCode = details.closeCode;
    this.status = details.status;
    this.statusCode = details.status;
    this.expose = details.status !== undefined && details.status >= 400 && details.status < 500;
  }
}

/**
 * Node-style argument errors keep the JS error class users expect and still carry a code
 * (`ERR_INVALID_OPTION` unless another is given).
 */
export function rangeError(message: string, code: ErrorCode = ErrorCode.InvalidOption): RangeError & { code: ErrorCode } {
  return Object.assign(new RangeError(message), { code });
}

export function typeError(message: string, code: ErrorCode = ErrorCode.InvalidOption): TypeError & { code: ErrorCode } {
  return Object.assign(new TypeError(message), { code });
}
