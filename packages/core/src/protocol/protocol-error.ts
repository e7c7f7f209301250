import { type ErrorCode, WebSocketError } from '../errors.js';
import { CloseCode } from './constants.js';

/** An error caused by the peer breaking RFC 6455; `closeCode` is what the connection closes with. */
export function protocolError(code: ErrorCode, message: string, closeCode: number = CloseCode.ProtocolError): WebSocketError {
  return new WebSocketError(code, message, { closeCode });
}
