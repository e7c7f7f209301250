/**
 * Compression ratio of permessage-deflate settings on the compressed scenario's messages (the 16
 * rotating 4 KiB JSON-like texts of payloads.ts, as loadgen.ts sends them), against the zlib
 * memory each setting costs a server per connection. Deterministic: no sockets, no timing.
 *
 *   pnpm --dir bench deflate-ratio [-- rounds]
 *
 * Each setting is a `compress` option object given to wsup's own negotiation (`acceptOffer`)
 * against Chromium's offer (`permessage-deflate; client_max_window_bits`, which ws's client also
 * sends), and its messages go through wsup's own codec (`PerMessageDeflate`), so the figures are
 * what wsup would put on the wire.
 *
 * - server → client: every message compressed by the server's codec in rotation (variant 0, 1,
 *   …, 15, 0, …), for `rounds` rounds; the first round (cold context) is left out.
 * - client → server: what the client's compressor makes of the same messages under what the
 *   server answered (its window and takeover rule), compressed as Chromium does (zlib level
 *   -1 = 6, memLevel 8), then inflated by the server's codec to check the agreement holds.
 *
 * Ratio = wire bytes (frame header + compressed payload) / payload bytes: lower is better.
 * Memory = zlib's allocation for what the server keeps per connection with context takeover:
 * deflater (1 << (windowBits + 2)) + (1 << (memLevel + 9)) + ~6 KiB, inflater (1 << windowBits)
 * + ~7 KiB; a shared deflater or pooled inflaters (no context takeover) cost nothing per
 * connection.
 */
import zlib from 'node:zlib';
import { PerMessageDeflate } from '../../packages/core/src/permessage-deflate/codec.js';
import { acceptOffer, type DeflateParams } from '../../packages/core/src/permessage-deflate/negotiation.js';
import { type DeflateOptions, resolveDeflateOptions } from '../../packages/core/src/permessage-deflate/options.js';
import { parseExtensions } from '../../packages/core/src/protocol/header-grammar.js';
import { makePayload } from './payloads.js';

const CHROMIUM_OFFER = 'permessage-deflate; client_max_window_bits';
let offer = CHROMIUM_OFFER;
const VARIANTS = 16;
const PAYLOAD = 4 * 1024;
const rounds = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 20);
const payloads = Array.from({ length: VARIANTS }, (_, v) => makePayload(PAYLOAD, 'json', v));

/** The bytes a frame of `len` payload bytes takes on the wire (server frames are unmasked; a client's add 4). */
function frameBytes(len: number, masked: boolean): number {
  return len + (len < 126 ? 2 : len < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

function negotiate(compress: true | DeflateOptions): { response: string; params: DeflateParams; codec: PerMessageDeflate } {
  const opts = resolveDeflateOptions(compress)!;
  const agreed = acceptOffer(parseExtensions(offer)!, opts);
  if (!agreed) throw new Error('offer declined');
  return { ...agreed, codec: new PerMessageDeflate(agreed.params, opts) };
}

/** server → client ratio through wsup's codec, steady state (first round left out). */
function serverToClient(codec: PerMessageDeflate): number {
  let wire = 0;
  let payload = 0;
  for (let r = 0; r < rounds; r++) {
    for (const p of payloads) {
      const out = codec.compress(p);
      if (r === 0) continue;
      wire += frameBytes(out.length, false);
      payload += p.length;
    }
  }
  return wire / payload;
}

/** client → server ratio: a Chromium-like compressor under the agreed client window and takeover, checked by wsup's inflater. */
function clientToServer(params: DeflateParams, server: PerMessageDeflate): number {
  const bits = Math.max(params.inflateBits, 9);
  const deflater = zlib.createDeflateRaw({ level: 6, memLevel: 8, windowBits: bits });
  // biome-ignore lint/suspicious/noExplicitAny: the stream's synchronous internals, as zlib-sync.ts uses them
  const handle = (d: zlib.DeflateRaw) => (d as any)._handle as { writeSync: (...a: unknown[]) => void; reset(): void };
  // biome-ignore lint/suspicious/noExplicitAny: see above
  const state = (d: zlib.DeflateRaw) => (d as any)._writeState as Uint32Array;
  const out = Buffer.alloc(64 * 1024);
  let wire = 0;
  let payload = 0;
  for (let r = 0; r < rounds; r++) {
    for (const p of payloads) {
      handle(deflater).writeSync(zlib.constants.Z_SYNC_FLUSH, p, 0, p.length, out, 0, out.length);
      const len = out.length - state(deflater)[0]! - 4;
      if (params.inflateNoContextTakeover) handle(deflater).reset();
      const back = server.inflate(out.subarray(0, len), true, true, 1 << 20);
      if (!back.equals(p)) throw new Error('client → server message did not survive');
      if (r === 0) continue;
      wire += frameBytes(len, true);
      payload += p.length;
    }
  }
  deflater.close();
  return wire / payload;
}

const KIB = 1024;
function deflaterBytes(bits: number, memLevel: number): number {
  const wb = Math.max(bits, 9);
  return (1 << (wb + 2)) + (1 << (memLevel + 9)) + 6 * KIB;
}
function inflaterBytes(bits: number): number {
  return (1 << Math.max(bits, 9)) + 7 * KIB;
}

interface Row {
  label: string;
  compress: true | DeflateOptions;
}

/** The defaults before issue 20, set explicitly. */
const OLD: DeflateOptions = {
  level: 1,
  memLevel: 8,
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function table(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  console.log(
    `${'setting'.padEnd(50)} ${'s→c ratio'.padStart(9)} ${'vs old'.padStart(7)} ${'c→s ratio'.padStart(9)} ${'vs old'.padStart(7)} ${'zlib/conn'.padStart(10)}  answer`,
  );
  for (const row of rows) {
    const s = negotiate(row.compress);
    const c = negotiate(row.compress);
    const sc = serverToClient(s.codec);
    const cs = clientToServer(c.params, c.codec);
    const p = s.params;
    const mem =
      (p.deflateNoContextTakeover ? 0 : deflaterBytes(p.deflateBits, p.deflateMemLevel)) +
      (p.inflateNoContextTakeover ? 0 : inflaterBytes(p.inflateBits));
    baseline ??= { sc, cs };
    const rel = (x: number, b: number) => `${x >= b ? '+' : ''}${(((x - b) / b) * 100).toFixed(1)}%`.padStart(7);
    console.log(
      `${row.label.padEnd(50)} ${sc.toFixed(4).padStart(9)} ${rel(sc, baseline.sc)} ${cs.toFixed(4).padStart(9)} ${rel(cs, baseline.cs)} ${`${(mem / KIB).toFixed(0)} KiB`.padStart(10)}  ${s.response}`,
    );
  }
}

let baseline: { sc: number; cs: number } | undefined;

console.log(
  `permessage-deflate ratio (wire / payload bytes, frame headers included) on ${VARIANTS} rotating ${PAYLOAD}-byte JSON-like texts, ${rounds} rounds (first left out), Node ${process.version}`,
);
console.log(
  "zlib/conn: zlib memory the server keeps per compressing connection (formula, see the top of this file); answer: to Chromium's offer unless said",
);

table('defaults', [
  { label: 'old default (set explicitly)', compress: OLD },
  { label: 'compress: true (new default)', compress: true },
]);

const grid: Row[] = [];
for (const bits of [15, 14, 13, 12, 11, 10, 9]) {
  for (const memLevel of [8, 4, 2, 1]) {
    grid.push({
      label: `server takeover, window ${bits}, memLevel ${memLevel}`,
      compress: { ...OLD, serverMaxWindowBits: bits, memLevel },
    });
  }
}
for (const level of [2, 4]) {
  grid.push({
    label: `server takeover, window 11, memLevel 4, level ${level}`,
    compress: { ...OLD, serverMaxWindowBits: 11, memLevel: 4, level },
  });
}
table('server → client: per-connection deflater (client side as old: takeover, window 15)', grid);

const shared: Row[] = [];
for (const level of [1, 2, 3, 4, 5, 6]) {
  shared.push({ label: `shared deflater, window 15, level ${level}`, compress: { ...OLD, serverNoContextTakeover: true, level } });
}
shared.push({
  label: 'shared deflater, window 15, memLevel 9, level 4',
  compress: { ...OLD, serverNoContextTakeover: true, memLevel: 9, level: 4 },
});
table('server → client: no server context takeover (one deflater shared by the process)', shared);

const client: Row[] = [];
for (const bits of [15, 14, 13, 12, 11, 10, 9]) {
  client.push({ label: `client takeover, client window ${bits}`, compress: { ...OLD, clientMaxWindowBits: bits } });
}
client.push({ label: 'client_no_context_takeover (pooled inflaters)', compress: { ...OLD, clientNoContextTakeover: true } });
table('client → server: what the server keeps for the client (server side as old)', client);

offer = 'permessage-deflate';
baseline = undefined;
table(`an offer without client_max_window_bits (${offer}): the server cannot bound the client's window`, [
  { label: 'old default (set explicitly)', compress: OLD },
  { label: 'compress: true (new default)', compress: true },
]);
