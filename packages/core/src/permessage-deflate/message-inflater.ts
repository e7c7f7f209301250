import { ErrorCode, type WebSocketError } from '../errors.js';
import { CloseCode } from '../protocol/constants.js';
import { protocolError } from '../protocol/protocol-error.js';
import type { MessageDecompressor } from '../protocol/receiver.js';
import { Utf8Validator } from '../protocol/utf8.js';
import type { PerMessageDeflate } from './codec.js';

/**
 * Turns the compressed pieces a connection receives into whole, validated messages (RFC 7692
 * §6.2): inflates each piece as it arrives, with `maxPayload` counted on the inflated size, checks
 * text as it is produced so invalid UTF-8 fails fast here too, and joins the pieces once the
 * message (in frame mode: the frame) is complete.
 */
export class MessageInflater implements MessageDecompressor {
  /** Inflated pieces of the message (or frame) being received. */
  private pieces: Buffer[] | undefined;
  /** Their total length. */
  heldBytes = 0;
  /** Compressed bytes of the message (or frame) being received, for the codec's `savedIn`. */
  private wireBytes = 0;
  private utf8: Utf8Validator | undefined;

  constructor(
    private readonly codec: PerMessageDeflate,
    private readonly maxPayload: number,
    private readonly frameMode: boolean,
  ) {}

  push(binary: boolean, piece: Buffer, frameEnd: boolean, fin: boolean): Buffer | null | WebSocketError {
    const unitEnd = this.frameMode ? frameEnd : fin;
    this.wireBytes += piece.length;
    let out: Buffer;
    try {
      out = this.codec.inflate(piece, fin, unitEnd, this.maxPayload);
    } catch (err) {
      this.reset();
      return err as WebSocketError;
    }
    if (!binary) {
      const v = (this.utf8 ??= new Utf8Validator());
      if (!v.push(out) || (fin && !v.end())) {
        this.reset();
        v.reset();
        return protocolError(ErrorCode.InvalidUtf8, 'invalid UTF-8 in a text message', CloseCode.InvalidPayload);
      }
    }
    if (!unitEnd) {
      if (out.length > 0) {
        (this.pieces ??= []).push(out);
        this.heldBytes += out.length;
      }
      return null;
    }
    this.codec.savedIn += this.heldBytes + out.length - this.wireBytes;
    this.wireBytes = 0;
    const pieces = this.pieces;
    if (pieces === undefined) return out;
    this.pieces = undefined;
    this.heldBytes = 0;
    pieces.push(out);
    return Buffer.concat(pieces);
  }

  /** Drops a message cut off by the end of the connection. */
  reset(): void {
    this.pieces = undefined;
    this.heldBytes = 0;
    this.wireBytes = 0;
  }
}
