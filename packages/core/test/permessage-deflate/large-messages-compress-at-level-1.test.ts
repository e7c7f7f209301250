import { deflateRawSync, constants as zc } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PerMessageDeflate } from '../../src/permessage-deflate/codec.js';
import { acceptOffer } from '../../src/permessage-deflate/negotiation.js';
import { resolveDeflateOptions } from '../../src/permessage-deflate/options.js';
import { parseExtensions } from '../../src/protocol/header-grammar.js';

/** What zlib makes of `data` alone at `level` (sync flush, the 00 00 ff ff tail removed: RFC 7692 §7.2.1). */
const alone = (data: Buffer, level: number) => {
  const out = deflateRawSync(data, { level, memLevel: 8, windowBits: 15, finishFlush: zc.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
};

function serverCodec(compress: Parameters<typeof resolveDeflateOptions>[0]): PerMessageDeflate {
  const opts = resolveDeflateOptions(compress)!;
  const agreed = acceptOffer(parseExtensions('permessage-deflate; client_max_window_bits')!, opts)!;
  return new PerMessageDeflate(agreed.params, opts);
}

// JSON-like text that level 1 and level 3 compress differently.
const json = (bytes: number) => {
  let s = '';
  for (let i = 0; s.length < bytes; i++)
    s += JSON.stringify({ id: i, name: `user-${(i * 7919) % 1000}`, score: (i * 31) % 97, ok: i % 3 === 0 });
  return Buffer.from(s.slice(0, bytes));
};

describe('the server default compresses each message on its own', () => {
  it('at level 3 below 64 KiB and at level 1 from 64 KiB up, so a large message holds the event loop no longer than before', () => {
    const codec = serverCodec(true);
    const small = json(4096);
    const large = json(64 * 1024);
    expect(alone(small, 3).equals(alone(small, 1))).toBe(false);
    expect(alone(large, 3).equals(alone(large, 1))).toBe(false);
    expect(codec.compress(small).equals(alone(small, 3))).toBe(true);
    expect(codec.compress(large).equals(alone(large, 1))).toBe(true);
  });

  it('at the level set, whatever the size, when `level` is given', () => {
    const codec = serverCodec({ level: 6 });
    for (const data of [json(4096), json(64 * 1024)]) expect(codec.compress(data).equals(alone(data, 6))).toBe(true);
  });
});
