import type { Duplex } from 'node:stream';
import type { WebSocketError } from '../errors.js';
import type { CloseInfo } from './message.js';
import { fitReason, type ReceivedClose } from '../protocol/close-frame.js';
import { CloseCode } from '../protocol/constants.js';
import { ReadyState } from './ready-state.js';
import { abort } from './socket-binding.js';

/**
 * Where a closing connection's close handshake is (RFC 6455 §5.5.1, §7). These are the only
 * phases, and the only ways between them:
 *
 * | phase | entered when | data may still be sent | left when |
 * | --- | --- | --- | --- |
 * | `Replying` | the peer's close frame arrived, or the connection failed (§7.1.7), while open | yes: answers to the messages received before | our close frame is sent (once those messages are read, or after `closeTimeout`): → `Ending` |
 * | `AwaitingPeer` | `close()` sent our close frame first (§7.1.2) | no | the peer's close frame arrives: → `Ending` |
 * | `Ending` | both close frames are exchanged, our close frame followed a failure, or the peer ended TCP | no | the TCP connection closes (the server ends it first, §7.1.1) |
 *
 * In every phase a timer of `closeTimeout` seconds bounds the wait: in `Replying` it sends our
 * close frame anyway, in the others it destroys the socket. `terminate()` skips the handshake
 * (the connection closes with 1006 and no handshake object is made).
 */
export const ClosePhase = {
  Replying: 'replying',
  AwaitingPeer: 'awaiting-peer',
  Ending: 'ending',
} as const;
export type ClosePhase = (typeof ClosePhase)[keyof typeof ClosePhase];

/** What the close handshake needs of its connection. */
export interface CloseHost {
  readonly isClient: boolean;
  readonly socket: Duplex;
  readonly readyState: ReadyState;
  readonly options: { readonly closeTimeoutMs: number };
  /** Messages received before the close that the application has not read yet. */
  readonly unreadMessages: number;
  /** Writes our close frame now, after everything queued before it. */
  writeClose(code: number | undefined, reason: string): void;
  /** The send side, to write out what was queued before the close. */
  readonly outbound: { flush(): void };
}

function sendReplyNow(handshake: CloseHandshake): void {
  handshake.sendReply();
}

/** The close handshake of one connection, made when closing starts. */
export class CloseHandshake {
  /** The peer's close frame, once it has arrived. */
  received: ReceivedClose | undefined;
  /** Our close frame has been written. */
  sent = false;
  /** The peer's close frame came before ours: the peer started the close. */
  receivedFirst = false;
  private reply: { code: number | undefined; reason: string } | undefined;
  /** The reply waits for the application to read what arrived before the close. */
  private replyWaits = false;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly host: CloseHost,
    public phase: ClosePhase,
  ) {}

  /** `close()` on an open connection: our close frame goes first (§7.1.2). */
  static initiate(host: CloseHost, code: number, reason: string): CloseHandshake {
    const h = new CloseHandshake(host, ClosePhase.AwaitingPeer);
    h.write(code, reason);
    h.armTimer();
    return h;
  }

  /** The handshake of a connection whose peer's close frame or failure starts it. */
  static answering(host: CloseHost): CloseHandshake {
    return new CloseHandshake(host, ClosePhase.Replying);
  }

  /** The peer ended TCP without (finishing) the handshake: only the TCP close is left. */
  static ending(host: CloseHost): CloseHandshake {
    return new CloseHandshake(host, ClosePhase.Ending);
  }

  /** Whether data frames may still be sent: our close frame is waiting for the application. */
  get replyPending(): boolean {
    return this.reply !== undefined && !this.sent;
  }

  /**
   * The peer's close frame arrived (§5.5.1). If ours was sent, the handshake is complete;
   * otherwise ours answers it, echoing its code.
   */
  peerClosed(received: ReceivedClose): void {
    this.received = received;
    this.receivedFirst = !this.sent;
    if (this.sent) this.finish();
    else this.queueReply(received.code === CloseCode.NoStatus ? undefined : received.code, '');
  }

  /**
   * The connection failed (§7.1.7): send a close frame with the error's code, after the
   * application's answers to earlier messages unless `now`. `mayReply` is false when no close
   * frame can be sent (one already went or was queued, or the socket is gone).
   */
  failed(err: WebSocketError, mayReply: boolean, now: boolean): void {
    if (mayReply && !this.sent && this.reply === undefined) {
      this.queueReply(err.closeCode ?? CloseCode.ProtocolError, fitReason(err.message));
      if (now) this.sendReply();
    } else if (!this.sent && now) {
      this.sendReply();
    }
    this.armTimer();
  }

  /**
   * `close(code, reason)` while our close frame waits for the application: send it now. After the
   * peer's close the caller's code answers it; after a failure the failure's stands.
   */
  closeNow(code: number, reason: string): void {
    if (!this.replyPending) return;
    if (this.received) this.reply = { code, reason };
    this.sendReply();
  }

  /** The application has read every message that arrived before the close. */
  inboxEmptied(): void {
    if (this.replyWaits) this.scheduleReply();
  }

  /** Bounds the wait for the TCP end after the peer ended its side. */
  peerEnded(): void {
    this.armTimer();
  }

  /** The socket closed: nothing is left to wait for. */
  stop(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * Queues our close frame behind the application's answers to the messages that arrived before
   * the peer's close frame (or before a protocol error): it goes out once those messages have
   * been read, plus one turn of the event loop so that code reacting to the last one (a
   * `for await` body) has sent its reply — at the latest after closeTimeout. This is what a peer
   * expects (§5.5.1; Autobahn's cases 3.2, 4.x, 5.15 check it) and what event listeners, which run
   * synchronously, get anyway.
   */
  private queueReply(code: number | undefined, reason: string): void {
    this.phase = ClosePhase.Replying;
    this.reply = { code, reason };
    if (this.host.unreadMessages > 0) {
      this.replyWaits = true;
      this.armTimer();
    } else {
      this.scheduleReply();
    }
  }

  private scheduleReply(): void {
    this.replyWaits = false;
    setImmediate(sendReplyNow, this);
  }

  /** @internal Sends the queued reply, if it is still due. */
  sendReply(): void {
    const reply = this.reply;
    if (!reply || this.sent || this.host.readyState === ReadyState.Closed) return;
    this.replyWaits = false;
    this.write(reply.code, reply.reason);
    if (this.received) {
      this.finish();
    } else {
      // After a failure both sides close TCP right after the close frame (§7.1.7).
      this.phase = ClosePhase.Ending;
      const socket = this.host.socket;
      if (!socket.writableEnded) socket.end();
      this.restartTimer();
    }
  }

  private write(code: number | undefined, reason: string): void {
    this.sent = true;
    this.host.writeClose(code, reason);
  }

  /** Both close frames have been sent: the server ends TCP first (§7.1.1), the client waits for it. */
  private finish(): void {
    this.phase = ClosePhase.Ending;
    this.host.outbound.flush();
    const socket = this.host.socket;
    if (!this.host.isClient && !socket.writableEnded) socket.end();
    this.restartTimer();
  }

  private restartTimer(): void {
    this.stop();
    this.armTimer();
  }

  private armTimer(): void {
    if (this.timer || this.host.readyState === ReadyState.Closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // The application did not read its queue in time: send the close frame anyway.
      if (this.replyPending) this.sendReply();
      else abort(this.host.socket);
    }, this.host.options.closeTimeoutMs);
    this.timer.unref();
  }
}

/**
 * How a connection ended: the peer's close frame if one arrived, else the failure's close code,
 * else 1006 (RFC 6455 §7.1.5, §7.4.1).
 */
export function closeInfoOf(handshake: CloseHandshake | undefined, failure: WebSocketError | undefined): CloseInfo {
  const received = handshake?.received;
  const info: CloseInfo = received
    ? { code: received.code, reason: received.reason, wasClean: handshake!.sent }
    : failure?.closeCode !== undefined
      ? { code: failure.closeCode, reason: failure.message, wasClean: false }
      : { code: CloseCode.Abnormal, reason: '', wasClean: false };
  if (failure) info.error = failure;
  return info;
}

/**
 * Why and how a connection ended, for `error`, `closed`, `closeCode` and `closeReason`: made when
 * it fails, when one of those is first asked for, or at the end, so an open connection that nobody
 * asks about keeps none.
 */
export class Ending {
  /** Why the connection failed, if it did. */
  failure: WebSocketError | undefined;
  /** Set once the connection is closed. */
  info: CloseInfo | undefined;
  private resolve: ((info: CloseInfo) => void) | undefined;
  private promised: Promise<CloseInfo> | undefined;

  get promise(): Promise<CloseInfo> {
    this.promised ??= this.info ? Promise.resolve(this.info) : new Promise<CloseInfo>((resolve) => (this.resolve = resolve));
    return this.promised;
  }

  settle(info: CloseInfo): void {
    this.info = info;
    this.resolve?.(info);
  }
}
