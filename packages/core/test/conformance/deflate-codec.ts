/**
 * The suite's own permessage-deflate (RFC 7692), on node:zlib's one-shot functions: nothing from
 * wsup, nothing from test/helpers. It negotiates (reads offers and answers, checks an answer the
 * way a strict client would) and compresses and decompresses messages under the agreed
 * parameters.
 *
 * Context takeover is modelled exactly: the LZ77 window a receiver keeps between messages is the
 * last 2^bits bytes of the compressed messages' plaintext, so each message is inflated (and
 * deflated) with that history as a preset dictionary. Without context takeover there is no
 * history, so a message that refers to an earlier one cannot be inflated at all.
 *
 * The window size is enforced too, which a one-shot inflate would not do: zlib resolves a
 * back-reference against everything the current call has produced, whatever `windowBits` says.
 * Inflating into 64-byte pieces (zlib's smallest) makes it check every distance against its
 * window plus at most 64 bytes, so a sender that uses a bigger window than agreed is caught.
 */
import zlib from 'node:zlib';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH };

// ---- Sec-WebSocket-Extensions, parsed independently of wsup's grammar ----

export interface ExtensionItem {
  name: string;
  /** In order; a parameter without a value is `true`. */
  params: [string, string | true][];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses a header value (RFC 6455 §9.1); a string describes what is malformed. */
export function parseExtensions(value: string): ExtensionItem[] | string {
  const out: ExtensionItem[] = [];
  // Split on commas and semicolons outside quoted strings.
  const items: string[][] = [[]];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (quoted) {
      cur += ch;
      if (ch === '\\') cur += value[++i] ?? '';
      else if (ch === '"') quoted = false;
    } else if (ch === '"') {
      quoted = true;
      cur += ch;
    } else if (ch === ',' || ch === ';') {
      items[items.length - 1]!.push(cur.trim());
      cur = '';
      if (ch === ',') items.push([]);
    } else {
      cur += ch;
    }
  }
  if (quoted) return 'unterminated quoted string';
  items[items.length - 1]!.push(cur.trim());
  for (const [name, ...params] of items) {
    if (!name || !TOKEN.test(name)) return `bad extension name ${JSON.stringify(name)}`;
    const item: ExtensionItem = { name, params: [] };
    for (const p of params) {
      const eq = p.indexOf('=');
      const key = (eq === -1 ? p : p.slice(0, eq)).trim();
      if (!TOKEN.test(key)) return `bad parameter ${JSON.stringify(p)}`;
      if (eq === -1) {
        item.params.push([key, true]);
        continue;
      }
      let v = p.slice(eq + 1).trim();
      if (v.startsWith('"')) {
        if (!v.endsWith('"') || v.length < 2) return `bad quoted value in ${JSON.stringify(p)}`;
        v = v.slice(1, -1).replace(/\\(.)/g, '$1');
      }
      if (!TOKEN.test(v)) return `bad parameter value in ${JSON.stringify(p)}`;
      item.params.push([key, v]);
    }
    out.push(item);
  }
  return out;
}

// ---- negotiation ----

/** One permessage-deflate offer or answer, read per RFC 7692 §7.1. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true` when present without a value (only allowed in an offer). */
  clientMaxWindowBits: number | true | undefined;
}

/** What both ends use: window bits and context takeover of each side's compressor. */
export interface Agreement {
  serverBits: number;
  serverNoContextTakeover: boolean;
  clientBits: number;
  clientNoContextTakeover: boolean;
}

const BITS = /^(8|9|1[0-5])$/;

/** Reads the parameters of a permessage-deflate item; a string says why they are invalid. */
export function readDeflateParams(item: ExtensionItem, inAnswer: boolean): DeflateParams | string {
  const p: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [k, v] of item.params) {
    if (seen.has(k)) return `${k} repeated`;
    seen.add(k);
    if (k === 'server_no_context_takeover' || k === 'client_no_context_takeover') {
      if (v !== true) return `${k} with a value`;
      p[k === 'server_no_context_takeover' ? 'serverNoContextTakeover' : 'clientNoContextTakeover'] = true;
    } else if (k === 'server_max_window_bits') {
      if (v === true || !BITS.test(v)) return `server_max_window_bits=${String(v)}`;
      p.serverMaxWindowBits = Number(v);
    } else if (k === 'client_max_window_bits') {
      if (v === true) {
        if (inAnswer) return 'client_max_window_bits without a value in an answer';
        p.clientMaxWindowBits = true;
      } else {
        if (!BITS.test(v)) return `client_max_window_bits=${v}`;
        p.clientMaxWindowBits = Number(v);
      }
    } else {
      return `unknown parameter ${k}`;
    }
  }
  return p;
}

/**
 * Checks the server's answer against the client's offers as a strict client does (RFC 7692 §5,
 * §7.1) and works out what was agreed. `answer` undefined: no compression (null returned).
 */
export function agree(offerHeader: string | undefined, answer: string | undefined): Agreement | null | string {
  if (answer === undefined) return null;
  const items = parseExtensions(answer);
  if (typeof items === 'string') return `malformed answer: ${items}`;
  if (items.length !== 1 || items[0]!.name.toLowerCase() !== 'permessage-deflate')
    return `answer ${JSON.stringify(answer)} is not one permessage-deflate`;
  const a = readDeflateParams(items[0]!, true);
  if (typeof a === 'string') return `invalid answer: ${a}`;
  const offers = typeof offerHeader === 'string' ? parseExtensions(offerHeader) : [];
  if (typeof offers === 'string') return `malformed offer: ${offers}`;
  const why: string[] = [];
  for (const item of offers) {
    if (item.name.toLowerCase() !== 'permessage-deflate') continue;
    const o = readDeflateParams(item, false);
    if (typeof o === 'string') continue; // an invalid offer cannot have been accepted
    // §7.1.1.1 / §7.1.2.1: what the client asked of the server's compressor must be confirmed.
    if (o.serverNoContextTakeover && !a.serverNoContextTakeover) {
      why.push('server_no_context_takeover offered but not answered');
      continue;
    }
    if (o.serverMaxWindowBits !== undefined && (a.serverMaxWindowBits === undefined || a.serverMaxWindowBits > o.serverMaxWindowBits)) {
      why.push(`server_max_window_bits=${o.serverMaxWindowBits} offered, answered ${a.serverMaxWindowBits ?? 'nothing'}`);
      continue;
    }
    // §7.1.2.2: client_max_window_bits only in answer to an offer of it, and not above its value.
    if (a.clientMaxWindowBits !== undefined) {
      if (o.clientMaxWindowBits === undefined) {
        why.push('client_max_window_bits answered but not offered');
        continue;
      }
      if (typeof o.clientMaxWindowBits === 'number' && (a.clientMaxWindowBits as number) > o.clientMaxWindowBits) {
        why.push(`client_max_window_bits=${String(a.clientMaxWindowBits)} above the offered ${o.clientMaxWindowBits}`);
        continue;
      }
    }
    const offeredClientBits = typeof o.clientMaxWindowBits === 'number' ? o.clientMaxWindowBits : 15;
    return {
      serverBits: a.serverMaxWindowBits ?? 15,
      serverNoContextTakeover: a.serverNoContextTakeover,
      // The offer's value is a promise of the client's even when the answer does not repeat it.
      clientBits: Math.min(offeredClientBits, (a.clientMaxWindowBits as number | undefined) ?? 15),
      // So is client_no_context_takeover in the offer (§7.1.1.2).
      clientNoContextTakeover: a.clientNoContextTakeover || o.clientNoContextTakeover,
    };
  }
  return `answer ${JSON.stringify(answer)} fits no offer${why.length ? ` (${why.join('; ')})` : ''}`;
}

// ---- the codec ----

/** Keeps the last 2^bits bytes of plaintext: the sliding window a context carries over. */
class History {
  private window = Buffer.alloc(0);
  constructor(private readonly size: number) {}
  get bytes(): Buffer {
    return this.window;
  }
  add(data: Buffer): void {
    if (data.length >= this.size) this.window = Buffer.from(data.subarray(data.length - this.size));
    else if (data.length > 0) this.window = Buffer.concat([this.window, data]).subarray(-this.size);
  }
}

/** Compresses messages as an RFC 7692 sender: sync flush, 00 00 ff ff removed (§7.2.1). */
export class MessageDeflater {
  private readonly history: History | undefined;
  constructor(
    private readonly bits: number,
    noContextTakeover: boolean,
    private readonly level = zlib.constants.Z_DEFAULT_COMPRESSION,
  ) {
    this.history = noContextTakeover ? undefined : new History(1 << bits);
  }

  compress(data: Buffer): Buffer {
    const dict = this.history?.bytes;
    const out = zlib.deflateRawSync(data, {
      ...SYNC,
      windowBits: this.bits,
      level: this.level,
      ...(dict && dict.length > 0 ? { dictionary: dict } : {}),
    });
    this.history?.add(data);
    if (!out.subarray(-4).equals(TAIL)) throw new Error('sync flush did not end with 00 00 ff ff');
    return out.subarray(0, out.length - 4);
  }
}

/** Decompresses messages of an RFC 7692 sender under the agreed window and takeover rule. */
export class MessageInflater {
  private readonly history: History | undefined;
  constructor(
    private readonly bits: number,
    noContextTakeover: boolean,
  ) {
    this.history = noContextTakeover ? undefined : new History(1 << bits);
  }

  /** @throws Error with zlib's message when the payload does not inflate under the agreement. */
  inflate(payload: Buffer): Buffer {
    const dict = this.history?.bytes;
    const out = zlib.inflateRawSync(Buffer.concat([payload, TAIL]), {
      ...SYNC,
      windowBits: this.bits,
      chunkSize: 64,
      ...(dict && dict.length > 0 ? { dictionary: dict } : {}),
    });
    this.history?.add(out);
    return out;
  }
}

/** One end's codec: its compressor for what it sends, its inflater for what it receives. */
export interface PeerDeflate {
  out: MessageDeflater;
  in: MessageInflater;
  agreement: Agreement;
}

/**
 * The codec of the scripted peer. The inflater is as strict as the agreement allows (the agreed
 * window, reset per message when the other side promised no context takeover); the compressor
 * uses all the freedom it has (the largest window, context takeover unless given up), so that the
 * implementation's inflater is tried at the agreed limits.
 */
export function peerDeflate(a: Agreement, role: 'client' | 'server'): PeerDeflate {
  const mine =
    role === 'client' ? { bits: a.clientBits, nct: a.clientNoContextTakeover } : { bits: a.serverBits, nct: a.serverNoContextTakeover };
  const theirs =
    role === 'client' ? { bits: a.serverBits, nct: a.serverNoContextTakeover } : { bits: a.clientBits, nct: a.clientNoContextTakeover };
  return { out: new MessageDeflater(mine.bits, mine.nct), in: new MessageInflater(theirs.bits, theirs.nct), agreement: a };
}

/** One message deflated on its own (no history), tail removed: for hand-made frames. */
export function deflateAlone(data: Buffer | string, opts: zlib.ZlibOptions = {}): Buffer {
  const out = zlib.deflateRawSync(typeof data === 'string' ? Buffer.from(data) : data, { ...SYNC, ...opts });
  return out.subarray(0, out.length - 4);
}

/**
 * A message in deflate segments, each ending on a sync flush (so each segment's output is
 * complete when it arrives): `parts[i]` compressed with the earlier parts as history. The tail of
 * the last segment is removed, as RFC 7692 wants; the earlier ones keep theirs.
 */
export function deflateSegments(parts: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let history = Buffer.alloc(0);
  parts.forEach((p, i) => {
    const seg = zlib.deflateRawSync(p, { ...SYNC, ...(history.length > 0 ? { dictionary: history.subarray(-32768) } : {}) });
    out.push(i === parts.length - 1 ? seg.subarray(0, seg.length - 4) : seg);
    history = Buffer.concat([history, p]);
  });
  return out;
}

/**
 * Whether an actual Sec-WebSocket-Extensions value (undefined: absent) is the expected one
 * (null: none), comparing each extension's parameters as a set: their order means nothing.
 * Returns a problem, or undefined.
 */
export function answerProblem(expected: string | null, actual: string | undefined): string | undefined {
  const canon = (v: string) => {
    const items = parseExtensions(v);
    if (typeof items === 'string') return `malformed: ${v}`;
    return items
      .map((i) => [i.name.toLowerCase(), ...i.params.map(([k, x]) => (x === true ? k : `${k}=${x}`)).sort()].join('; '))
      .join(', ');
  };
  if (expected === null) return actual === undefined ? undefined : `Sec-WebSocket-Extensions: ${actual}, expected none`;
  if (actual === undefined) return `no Sec-WebSocket-Extensions, expected ${expected}`;
  return canon(actual) === canon(expected) ? undefined : `Sec-WebSocket-Extensions: ${actual}, expected ${expected}`;
}
