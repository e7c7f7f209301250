/**
 * `maxConnections` and `maxConnectionsPerAddress` of a router: how many routed upgrade requests
 * and WebSockets may be open at once, in all and per client address. A request over a limit is
 * answered 503 before any request handler sees it.
 */
import { constants as h2, type Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import { ErrorCode, WebSocketError } from '../errors.js';
import { count } from '../option-validators.js';
import { refuse } from './refusal.js';
import { isHttp2Request, type UpgradeRequest } from './transport.js';

/** The limits' options, as {@link HandleUpgradesOptions} spells them. */
export interface ConnectionLimitOptions {
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
}

/** The client address a request is counted under: the TCP peer's (over HTTP/2, its session's). */
function addressOf(req: UpgradeRequest): string | undefined {
  return isHttp2Request(req) ? req.stream.session?.socket?.remoteAddress : req.socket?.remoteAddress;
}

/**
 * Counts each routed request from the moment it is routed until its transport closes (the TCP
 * connection over HTTP/1.1, the stream over HTTP/2): while a handler works on it, while it is a
 * WebSocket, and while that closes. Per-address counts are deleted when they fall to 0, so the map
 * holds only addresses with something open.
 */
export class ConnectionLimits {
  /** Requests and WebSockets counted and not closed yet. */
  private open = 0;
  private readonly perAddress = new Map<string, number>();
  /** The address each counted transport was counted under. */
  private readonly addresses = new WeakMap<Duplex, string>();
  /** One listener for every counted transport ('close' fires once): no closure per connection. */
  private readonly onClose: (this: Duplex) => void;

  private constructor(
    private readonly max: number,
    private readonly maxPerAddress: number,
  ) {
    const limits = this;
    this.onClose = function onTransportClose(this: Duplex): void {
      limits.release(this);
    };
  }

  /**
   * The router's limits, or undefined when both are unlimited (then nothing is counted).
   * @throws RangeError `ERR_INVALID_OPTION` for a limit that is not a whole number ≥ 1 or Infinity.
   */
  static from(options: ConnectionLimitOptions): ConnectionLimits | undefined {
    const max = count(options.maxConnections, 'maxConnections');
    const maxPerAddress = count(options.maxConnectionsPerAddress, 'maxConnectionsPerAddress');
    return max === Infinity && maxPerAddress === Infinity ? undefined : new ConnectionLimits(max, maxPerAddress);
  }

  /** Requests and WebSockets open now. */
  get size(): number {
    return this.open;
  }

  /** How many are open from each address (only addresses with at least one). */
  get addressCounts(): ReadonlyMap<string, number> {
    return this.perAddress;
  }

  /**
   * Counts a routed request on `transport` (its socket, or its HTTP/2 stream) until that closes;
   * over a limit, answers it 503 instead (over HTTP/2 on `res`).
   * @returns the refusal, already answered, or undefined when the request may go on.
   */
  admit(req: UpgradeRequest, transport: Duplex, res?: Http2ServerResponse): WebSocketError | undefined {
    if (transport.destroyed) return undefined; // gone already: nothing to hold, and no 'close' to come
    const address = this.maxPerAddress === Infinity ? undefined : addressOf(req);
    const fromAddress = address === undefined ? 0 : (this.perAddress.get(address) ?? 0);
    if (this.open >= this.max || fromAddress >= this.maxPerAddress) {
      const which = this.open >= this.max ? 'to this server' : 'from your address';
      const err = new WebSocketError(ErrorCode.TooManyConnections, `Too many WebSocket connections ${which}; try again later`, {
        status: 503,
      });
      refuse(req, err, transport, res);
      // Over HTTP/2 the session goes on: once the 503 is out, the stream ends (RST_STREAM NO_ERROR).
      if (res !== undefined) res.once('finish', () => !transport.destroyed && res.stream.close(h2.NGHTTP2_NO_ERROR));
      return err;
    }
    this.open++;
    if (address !== undefined) {
      this.perAddress.set(address, fromAddress + 1);
      this.addresses.set(transport, address);
    }
    transport.on('close', this.onClose);
    return undefined;
  }

  private release(transport: Duplex): void {
    this.open--;
    const address = this.addresses.get(transport);
    if (address === undefined) return;
    this.addresses.delete(transport);
    const left = this.perAddress.get(address)! - 1;
    if (left === 0) this.perAddress.delete(address);
    else this.perAddress.set(address, left);
  }
}
