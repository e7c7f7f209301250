import type { Buffer } from 'node:buffer';
import type { PerMessageDeflate } from '../permessage-deflate/codec.js';
import { Opcode } from '../protocol/constants.js';
import { serverFrame } from '../protocol/frame-header.js';
import type { FanOut } from '../protocol/fan-out.js';

/**
 * One published message on its way to a topic's local subscribers: the payload, and each frame
 * made of it so far, so that every encoding is made once however many subscribers take it.
 */
export class Publication {
  private decoded: string | undefined;
  private plain: Buffer | undefined;
  private compressed: Map<string, Buffer> | undefined;
  /**
   * @internal The run that subscribers taking {@link frame} as is join, so that the topic's
   * next messages in this turn reach them all at once; set by the hub.
   */
  fanOut: FanOut | undefined;

  constructor(
    readonly payload: Buffer,
    readonly binary: boolean,
  ) {}

  /** The payload of a text message as a string, decoded once. */
  get text(): string {
    this.decoded ??= this.payload.utf8Slice(0, this.payload.length);
    return this.decoded;
  }

  /** The message as one unmasked, uncompressed frame. */
  frame(): Buffer {
    this.plain ??= serverFrame(this.payload, this.binary ? Opcode.Binary : Opcode.Text, false);
    return this.plain;
  }

  /**
   * The message compressed by `codec`, as one unmasked frame with RSV1 set. Made once for every
   * codec with the same `sharedKey` (no server context takeover: the output depends only on the
   * parameters), so a broadcast is compressed once per parameter set, not per subscriber. Only
   * for codecs that have a `sharedKey`.
   */
  compressedFrame(codec: PerMessageDeflate): Buffer {
    const key = codec.sharedKey!;
    const frames = (this.compressed ??= new Map<string, Buffer>());
    let frame = frames.get(key);
    if (frame === undefined) {
      frame = serverFrame(codec.compress(this.payload), this.binary ? Opcode.Binary : Opcode.Text, true);
      frames.set(key, frame);
    }
    return frame;
  }
}

/**
 * What a hub delivers published messages to. A WebSocket is one; the hub knows nothing else of
 * it, so topics do not depend on connections.
 */
export interface Subscriber {
  /**
   * Queues a published message, framed however this subscriber needs it (a shared frame from
   * the publication, or one of its own). Called by the hub, once per subscriber and message.
   * @returns whether the message was queued.
   */
  deliver(publication: Publication): boolean;
}
