/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1) for both sides: the server picks an offer and
 * answers it, the client makes its offer and checks the answer.
 */
import { ErrorCode, WebSocketError } from '../errors.js';
import type { ExtensionOffer } from '../protocol/header-grammar.js';
import type { ResolvedDeflateOptions } from './options.js';
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

    let serverBits = opts.serverMaxWindowBits;
    let sendServerBits = serverBits < 15;
    if (p.serverMaxWindowBits !== undefined) {
      serverBits = Math.min(serverBits, p.serverMaxWindowBits);
      sendServerBits = true;
    }
    // client_max_window_bits may only be answered when offered (§7.1.2.2).
    let clientBits = 15;
    let sendClientBits = false;
    if (p.clientMaxWindowBits !== undefined) {
      const offered = p.clientMaxWindowBits === true ? 15 : p.clientMaxWindowBits;
      clientBits = Math.min(offered, opts.clientMaxWindowBits);
      sendClientBits = clientBits < 15;
    }
    const serverNct = opts.serverNoContextTakeover || p.serverNoContextTakeover;
    const clientNct = opts.clientNoContextTakeover || p.clientNoContextTakeover;

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
      },
    };
  }
  return null;
}

/** Client side: the offer to send, or null when compression is unavailable. */
export function clientOffer(opts: ResolvedDeflateOptions): string | null {
  if (!canCompress()) return null;
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
export function acceptResponse(answer: readonly ExtensionOffer[], opts: ResolvedDeflateOptions): DeflateParams | WebSocketError {
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
  };
}
