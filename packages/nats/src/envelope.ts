/**
 * The bytes a message travels as in NATS: a small header naming the publishing hub and whether
 * the payload is binary, then the payload itself, untouched (no base64, no JSON). A byte prefix
 * rather than NATS headers: headers are MIME-style text the client would build and parse for
 * every message, and the prefix costs 3 bytes plus the node id.
 *
 * ```
 * byte 0      format version (1)
 * byte 1      flags: bit 0 = binary
 * byte 2      n = length of the node id in bytes (1..255)
 * bytes 3..   the node id (UTF-8), then the payload
 * ```
 */

const VERSION = 1;
const FLAG_BINARY = 0x01;
const FIXED = 3;

/** A decoded message from another hub. */
export interface Envelope {
  /** The publishing node's id. */
  from: string;
  payload: Uint8Array;
  binary: boolean;
}

/** Encodes the messages of one hub; the header is built once per node. */
export class EnvelopeCodec {
  private readonly id: Buffer;
  private readonly header: Buffer;

  constructor(nodeId: string) {
    this.id = Buffer.from(nodeId, 'utf8');
    if (this.id.length < 1 || this.id.length > 255) throw new RangeError('a node id must take 1 to 255 bytes');
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
   * A message published by another node; null for this node's own messages (a second guard
   * besides the connection's `noEcho`) and for anything that is not an envelope of this format
   * (another program publishing on the prefix's subjects).
   */
  decodeForeign(message: Uint8Array): Envelope | null {
    if (message.length < FIXED || message[0] !== VERSION) return null;
    const n = message[2]!;
    const start = FIXED + n;
    if (n === 0 || message.length < start) return null;
    const from = Buffer.from(message.buffer, message.byteOffset + FIXED, n);
    if (from.equals(this.id)) return null;
    return { from: from.toString('utf8'), payload: message.subarray(start), binary: (message[1]! & FLAG_BINARY) !== 0 };
  }
}
