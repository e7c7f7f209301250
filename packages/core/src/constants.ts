/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Close status codes (RFC 6455 §7.4.1). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Never sent on the wire: reported when a close frame carried no code. */
  NoStatus: 1005,
  /** Never sent on the wire: reported when the connection ended without a close frame. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Whether a close code may appear in a close frame. Follows the codes that RFC 6455 defines for
 * use on the wire plus the application ranges; 1012–1014 (registered later by IANA) and other
 * unassigned codes are rejected the way the Autobahn suite judges strict implementations.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1011) ||
    (code >= 3000 && code <= 4999)
  );
}

/** The GUID that RFC 6455 §1.3 appends to the key to compute `Sec-WebSocket-Accept`. */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Connection states, numerically identical to the browser `WebSocket.readyState`. */
export const ReadyState = {
  Connecting: 0,
  Open: 1,
  Closing: 2,
  Closed: 3,
} as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** Default limits. Every one can be changed per connection through options. */
export const Defaults = {
  /** Largest message (after decompression) accepted: 16 MiB. */
  maxPayload: 16 * 1024 * 1024,
  /** Most frames one message may be split into. */
  maxFragments: 100_000,
  /** Seconds to wait for the peer's close frame (and for the TCP end) before destroying. */
  closeTimeout: 3,
  /** Queued received bytes at which socket reading pauses: 1 MiB. */
  receiveHighWaterMark: 1024 * 1024,
  /** bufferedAmount from which send() returns false: 1 MiB. */
  sendHighWaterMark: 1024 * 1024,
  /** bufferedAmount past which a send closes the connection with 1008: 64 MiB. */
  maxBuffered: 64 * 1024 * 1024,
  /** Seconds a routed upgrade request may wait for its handler to upgrade or answer it. */
  upgradeTimeout: 10,
  /** Seconds a client may take to send its request head (the server's headersTimeout). */
  handshakeTimeout: 10,
} as const;
