/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1) for both sides: the server picks an offer and
 * answers it, the client makes its offer and checks the answer.
 */
import { ErrorCode, WebSocketError } from '../errors.js';
import type { ExtensionOffer } from '../protocol/header-grammar.js';
import { CONTEXT_LEVEL, clientDefaults, type ResolvedDeflateOptions, SHARED_DEFLATER_LEVEL, serverDefaults } from './options.js';
import { canCompress } from './zlib-sync.js';

export const EXTENSION_NAME = 'permessage-deflate';

/** What both sides agreed on, from the point of view of one endpoint. */
export interface DeflateParams {
  /** Window bits and context-takeover rule of this endpoint's compressor. */
  deflateBits: number;
  deflateNoContextTakeover: boolean;
  /** Window bits of the peer's compressor (this endpoint's inflater) and its takeover rule. */
  inflateBits: number;
  inflateNoContextTakeover: boolean;
  /** zlib level and memLevel of this endpoint's compressor (not negotiated: its own defaults or options). */
  deflateLevel: number;
  deflateMemLevel: number;
  /** The level for messages of {@link LARGE_MESSAGE} bytes or more (the same unless defaults differ). */
  deflateLargeLevel: number;
}

interface OfferParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true` when present without a value. */
  clientMaxWindowBits: number | true | undefined;
}

const BITS_RE = /^(?:8|9|1[0-5])$/;

/**
 * Reads the parameters of one permessage-deflate offer or response (RFC 7692 §7.1). Null if a
 * parameter is unknown, repeated or has an invalid value. In a response, client_max_window_bits
 * must carry a value.
 */
function readParams(offer: ExtensionOffer, isResponse: boolean): OfferParams | null {
  const p: OfferParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of offer.params) {
    if (seen.has(name)) return null;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== true) return null;
        p.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return null;
        p.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        if (value === true || !BITS_RE.test(value)) return null;
        p.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value === true) {
          if (isResponse) return null;
          p.clientMaxWindowBits = true;
        } else {
          if (!BITS_RE.test(value)) return null;
          p.clientMaxWindowBits = Number(value);
        }
        break;
      default:
        return null;
    }
  }
  return p;
}

/**
 * Server side: accepts the first acceptable permessage-deflate offer (RFC 7692 §5). Returns the
 * response header value and the agreed parameters, or null to proceed without compression.
 */
export function acceptOffer(
  offers: readonly ExtensionOffer[],
  opts: ResolvedDeflateOptions,
): { response: string; params: DeflateParams } | null {
  for (const offer of offers) {
    if (offer.name !== EXTENSION_NAME) continue;
    if (!canCompress()) return null;
    const p = readParams(offer, false);
    if (!p) continue;

    const o = serverDefaults(opts);
    let serverBits = o.serverMaxWindowBits;
    let sendServerBits = serverBits < 15;
    if (p.serverMaxWindowBits !== undefined) {
      serverBits = Math.min(serverBits, p.serverMaxWindowBits);
      sendServerBits = true;
    }
    const serverNct = o.serverNoContextTakeover || p.serverNoContextTakeover;
    // The client's context is what the server keeps per connection for inflating: bounded by its
    // window when the client offered client_max_window_bits (which may only be answered then,
    // §7.1.2.2), otherwise, unless clientNoContextTakeover is set either way, by asking the client
    // to keep none (§7.1.1.2: the server may include client_no_context_takeover in any response).
    // A client that keeps no context is inflated by pooled inflaters: its window is left as
    // offered unless clientMaxWindowBits is set.
    let clientNct = p.clientNoContextTakeover || o.clientNoContextTakeover === true;
    let clientBits = 15;
    let sendClientBits = false;
    if (p.clientMaxWindowBits !== undefined) {
      const offered = p.clientMaxWindowBits === true ? 15 : p.clientMaxWindowBits;
      const wanted = clientNct ? (opts.clientMaxWindowBits ?? 15) : o.clientMaxWindowBits;
      clientBits = Math.min(offered, wanted);
      sendClientBits = clientBits < 15;
    } else if (!clientNct && o.clientNoContextTakeover === undefined) {
      clientNct = o.clientMaxWindowBits < 15;
    }

    let response = EXTENSION_NAME;
    if (serverNct) response += '; server_no_context_takeover';
    if (clientNct) response += '; client_no_context_takeover';
    if (sendServerBits) response += `; server_max_window_bits=${serverBits}`;
    if (sendClientBits) response += `; client_max_window_bits=${clientBits}`;
    return {
      response,
      params: {
        deflateBits: serverBits,
        deflateNoContextTakeover: serverNct,
        inflateBits: clientBits,
        inflateNoContextTakeover: clientNct,
        // Unset, the level follows what was agreed: 3 for messages compressed on their own.
        deflateLevel: opts.level ?? (serverNct ? SHARED_DEFLATER_LEVEL : CONTEXT_LEVEL),
        deflateMemLevel: o.memLevel,
        // Large messages at level 1 all the same: compression is synchronous, and at level 3 a
        // 15 MiB message would hold the event loop longer for a few percent.
        deflateLargeLevel: opts.level ?? CONTEXT_LEVEL,
      },
    };
  }
  return null;
}

/** Client side: the offer to send, or null when compression is unavailable. */
export function clientOffer(resolved: ResolvedDeflateOptions): string | null {
  if (!canCompress()) return null;
  const opts = clientDefaults(resolved);
  let offer = EXTENSION_NAME;
  if (opts.serverNoContextTakeover) offer += '; server_no_context_takeover';
  if (opts.clientNoContextTakeover) offer += '; client_no_context_takeover';
  if (opts.serverMaxWindowBits < 15) offer += `; server_max_window_bits=${opts.serverMaxWindowBits}`;
  offer += opts.clientMaxWindowBits < 15 ? `; client_max_window_bits=${opts.clientMaxWindowBits}` : '; client_max_window_bits';
  return offer;
}

/**
 * Client side: validates the server's answer to {@link clientOffer} (RFC 7692 §5, §7.1). Returns
 * the agreed parameters, or the error to fail the connection with.
 */
export function acceptResponse(answer: readonly ExtensionOffer[], resolved: ResolvedDeflateOptions): DeflateParams | WebSocketError {
  const opts = clientDefaults(resolved);
  const bad = (why: string) => new WebSocketError(ErrorCode.ExtensionMismatch, `invalid permessage-deflate response: ${why}`);
  if (answer.length !== 1 || answer[0]!.name !== EXTENSION_NAME) return bad('the server must accept exactly the offered extension');
  const p = readParams(answer[0]!, true);
  if (!p) return bad('unknown, repeated or invalid parameter');
  if (opts.serverNoContextTakeover && !p.serverNoContextTakeover) return bad('server_no_context_takeover was requested but not confirmed');
  // A server accepts a server_max_window_bits offer "by including" it (RFC 7692 §7.1.2.1).
  if (opts.serverMaxWindowBits < 15 && p.serverMaxWindowBits === undefined)
    return bad('server_max_window_bits was requested but not confirmed');
  if (p.serverMaxWindowBits !== undefined && p.serverMaxWindowBits > opts.serverMaxWindowBits) {
    return bad('server_max_window_bits larger than offered');
  }
  const clientBits = p.clientMaxWindowBits === undefined ? opts.clientMaxWindowBits : (p.clientMaxWindowBits as number);
  if (clientBits > opts.clientMaxWindowBits) return bad('client_max_window_bits larger than offered');
  return {
    deflateBits: clientBits,
    deflateNoContextTakeover: opts.clientNoContextTakeover || p.clientNoContextTakeover,
    inflateBits: p.serverMaxWindowBits ?? 15,
    inflateNoContextTakeover: p.serverNoContextTakeover,
    deflateLevel: opts.level,
    deflateMemLevel: opts.memLevel,
    deflateLargeLevel: opts.level,
  };
}
