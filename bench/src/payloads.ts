/** Deterministic message payloads, so every run of every server echoes exactly the same bytes. */

/** xorshift32: reproducible filler; the quality of the randomness does not matter here. */
export function prng(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];

/** Records as an API would send them: repetitive keys, varying values, so deflate has work to do. */
function jsonLike(bytes: number, rand: () => number): Buffer {
  const records: string[] = [];
  let size = 2; // [ ]
  for (let id = 1; ; id++) {
    const r = JSON.stringify({
      id: rand() % 100000,
      user: `${WORDS[rand() % WORDS.length]}-${rand() % 10000}`,
      active: (rand() & 1) === 1,
      score: (rand() % 100000) / 100,
      tags: [WORDS[rand() % WORDS.length], WORDS[rand() % WORDS.length]],
      seq: id,
    });
    if (size + r.length + 1 > bytes) break;
    records.push(r);
    size += r.length + 1;
  }
  // Pad inside the array so the text stays JSON and the size is exact.
  const text = `[${records.join(',')}`;
  return Buffer.from(`${text.padEnd(bytes - 1, ' ')}]`, 'utf8');
}

export function makePayload(bytes: number, content: 'random' | 'ascii' | 'json', variant: number): Buffer {
  const rand = prng(0x5eed + variant * 7919);
  if (content === 'json') return jsonLike(bytes, rand);
  const buf = Buffer.allocUnsafe(bytes);
  if (content === 'ascii') {
    for (let i = 0; i < bytes; i++) buf[i] = 0x21 + (rand() % 94);
  } else {
    for (let i = 0; i < bytes; i++) buf[i] = rand() & 0xff;
  }
  return buf;
}
