import { ErrorCode, WebSocketError } from '@wsup/core';

/**
 * A message that did not go to the other nodes: published while NATS was unreachable and the
 * buffer was full, still buffered when the broker closed, or refused by the client (larger than
 * the server's `max_payload`). Local subscribers got it; other nodes did not. `code` is
 * `ERR_BROKER_UNAVAILABLE`, like every broker failure, so `err.code` checks need not know this
 * class.
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

/** The broker cannot reach NATS (reported once per outage). */
export function unreachable(message: string, cause: unknown): WebSocketError {
  return new WebSocketError(ErrorCode.BrokerUnavailable, message, cause === undefined ? {} : { cause });
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
