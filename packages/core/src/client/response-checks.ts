/** The checks an HTTP/1.1 answer to the opening handshake must pass (RFC 6455 §4.1). */
import { ErrorCode, WebSocketError, type WebSocketErrorDetails } from '../errors.js';
import { acceptKey } from '../protocol/keys.js';
import { hasToken } from '../protocol/validation.js';
import { checkAgreement, type ClientAgreement, type ClientOffer } from './negotiation.js';
import { headersObject, headerValue, type ResponseHead } from './response-head.js';

/**
 * A handshake that failed because of the server's response. Besides `code` and `status`, it keeps
 * the response headers and, when the server did not switch protocols, the start of the body.
 */
export class HandshakeResponseError extends WebSocketError {
  /** The response headers, by lower-case name (repeated fields joined with `, `). */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The first bytes of the response body (at most {@link BODY_EXCERPT_BYTES}, decoded as UTF-8),
   * or `''`. Only a non-101 response has one.
   */
  readonly body: string;

  constructor(code: ErrorCode, message: string, head: ResponseHead, body = '', details: WebSocketErrorDetails = {}) {
    super(code, message, { ...details, status: head.status });
    // `status` is what the server answered *us*. As `statusCode` an app's error handler would
    // relay it to its own client (an upstream's 401 becoming this server's 401), so these stay
    // server-side: a failed connect() is this process's failure.
    Object.assign(this, { statusCode: undefined, expose: false });
    this.headers = headersObject(head);
    this.body = body;
  }
}

/**
 * Checks that a 101 response switches to WebSocket as HTTP/1.1 requires (RFC 6455 §4.1, the
 * client's "MUST _Fail the WebSocket Connection_" items 1–4): HTTP/1.1, `Upgrade: websocket`,
 * `Connection: upgrade`, and the `Sec-WebSocket-Accept` that `key` calls for.
 * @returns the error of the first check that fails, or undefined.
 */
function checkSwitchingProtocols(head: ResponseHead, key: string): WebSocketError | undefined {
  const fail = (code: ErrorCode, message: string) => new WebSocketError(code, message);
  if (head.httpVersion !== '1.1') return fail(ErrorCode.MalformedResponse, `a 101 response must be HTTP/1.1, not HTTP/${head.httpVersion}`);
  const upgrade = head.headers.get('upgrade');
  if (upgrade === undefined || upgrade.length !== 1 || upgrade[0]!.toLowerCase() !== 'websocket') {
    return fail(
      ErrorCode.ResponseUpgrade,
      upgrade === undefined
        ? 'the 101 response has no Upgrade header'
        : `the 101 response has Upgrade: ${upgrade.join(', ')}, not websocket`,
    );
  }
  const connection = headerValue(head, 'connection');
  if (!hasToken(connection, 'upgrade')) {
    return fail(
      ErrorCode.ResponseConnection,
      connection === undefined
        ? 'the 101 response has no Connection header'
        : `the 101 response's Connection header (${connection}) does not contain upgrade`,
    );
  }
  const accept = head.headers.get('sec-websocket-accept');
  if (accept === undefined || accept.length !== 1 || accept[0] !== acceptKey(key)) {
    return fail(
      ErrorCode.BadAcceptKey,
      accept === undefined ? 'the 101 response has no Sec-WebSocket-Accept header' : 'Sec-WebSocket-Accept does not match the key sent',
    );
  }
  return undefined;
}

/**
 * Checks a 101 response: first as HTTP/1.1, then the server's choices of subprotocol and
 * extensions. Returns what was agreed.
 * @throws {HandshakeResponseError} with the code of the first check that fails.
 */
export function checkResponse(head: ResponseHead, key: string, offer: ClientOffer, compress: unknown): ClientAgreement {
  if (head.status !== 101) {
    // Callers handle other statuses themselves, to collect the body.
    throw new HandshakeResponseError(
      ErrorCode.NotSwitchingProtocols,
      `the server answered ${head.status} ${head.statusText} instead of 101`.trimEnd(),
      head,
    );
  }
  const agreement =
    checkSwitchingProtocols(head, key) ??
    checkAgreement(head.headers.get('sec-websocket-protocol'), headerValue(head, 'sec-websocket-extensions'), offer, compress);
  if (agreement instanceof WebSocketError) throw new HandshakeResponseError(agreement.code, agreement.message, head);
  return agreement;
}
