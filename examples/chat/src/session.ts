/**
 * One browser's chat connection: reads its messages in order, checks them, and turns them into
 * room operations. Refused messages get an error reply; a connection that keeps sending them is
 * closed with 1008, since a page that follows the protocol never does. Messages over the rate
 * limit (core's `rateLimit` option, set on the route) are dropped by core before they get here,
 * and answered as they arrive.
 */
import { CloseCode, type Message, type WebSocket } from '@wsup/core';
import { parseClientMessage, protocolError, type ProtocolError } from './protocol.js';
import type { Member, Rooms } from './rooms.js';

/** Application close codes (the 4000–4999 range is ours). */
export const ChatCloseCode = {
  /** Removed by the server's operator (`ChatServer.kick`). Pages do not reconnect after it. */
  Kicked: 4001,
} as const;

export interface SessionOptions {
  rooms: Rooms;
  /** Refused messages a connection may send before it is closed with 1008. */
  maxStrikes: number;
  /** Where unexpected failures are reported (the connection is closed with 1011). */
  log: (message: string, err: unknown) => void;
}

export class ChatSession {
  private member: Member | undefined;
  private room: string | undefined;
  private strikes = 0;

  constructor(
    readonly ws: WebSocket,
    private readonly options: SessionOptions,
  ) {
    ws.on('ratelimit', () => this.refuse(protocolError('rate-limited', 'too many messages; slow down')));
  }

  /** The name this connection joined with, if it has joined. */
  get name(): string | undefined {
    return this.member?.name;
  }

  /** Serves the connection until it closes; never rejects. */
  async run(): Promise<void> {
    try {
      for await (const msg of this.ws) {
        await this.handle(msg);
      }
    } catch (err) {
      this.options.log('chat session failed', err);
      if (this.ws.readyState === this.ws.OPEN) void this.ws.close(CloseCode.InternalError, 'internal error');
    } finally {
      await this.leave().catch((err: unknown) => this.options.log('leaving a room failed', err));
    }
  }

  /** Closes the connection with {@link ChatCloseCode.Kicked}. */
  kick(reason: string): void {
    if (this.ws.readyState === this.ws.OPEN) void this.ws.close(ChatCloseCode.Kicked, reason);
  }

  private async handle(msg: Message): Promise<void> {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (msg.binary) return this.refuse(protocolError('binary-not-supported', 'this route takes JSON text messages; binary goes to /echo'));
    const parsed = parseClientMessage(msg.data);
    switch (parsed.type) {
      case 'error':
        return this.refuse(parsed);
      case 'join':
        await this.leave();
        this.member = { ws: this.ws, name: parsed.name };
        this.room = parsed.room;
        await this.options.rooms.join(parsed.room, this.member);
        return;
      case 'say':
        if (!this.member || this.room === undefined) return this.refuse(protocolError('not-joined', 'join a room first'));
        await this.options.rooms.publish(this.room, this.member, parsed.text);
        return;
    }
  }

  private refuse(error: ProtocolError): void {
    this.ws.send(JSON.stringify(error));
    if (++this.strikes >= this.options.maxStrikes) {
      void this.ws.close(CloseCode.PolicyViolation, 'too many invalid messages');
    }
  }

  private async leave(): Promise<void> {
    const { member, room } = this;
    this.member = undefined;
    this.room = undefined;
    if (member && room !== undefined) await this.options.rooms.leave(room, member);
  }
}
