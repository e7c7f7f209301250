/**
 * Payloads for the permessage-deflate sections. Autobahn's section 12 compresses slices of five
 * data files (JSON, a bitmap, German prose, HTML, a PDF); the files are not copied here: each is
 * replaced by a generated corpus of the same kind, deterministic, so that a failure reproduces.
 * Slices of one corpus share vocabulary, so later messages find matches in earlier ones and
 * context takeover matters, as with the real files.
 */

export interface Corpus {
  title: string;
  binary: boolean;
  /** The whole corpus, made on first use. */
  bytes(): Buffer;
}

const SIZE = 384 * 1024;

/** A small deterministic generator (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function lazy(make: () => Buffer): () => Buffer {
  let b: Buffer | undefined;
  return () => (b ??= make());
}

function textUntil(size: number, next: () => string): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    const s = next();
    parts.push(s);
    n += Buffer.byteLength(s);
  }
  return Buffer.from(parts.join(''), 'utf8');
}

const NAMES = ['Ångström', 'Zoë', 'José', 'Müller', 'Łukasz', 'Chloé', 'Søren', 'Nguyễn', 'Ørsted', 'Jürgen', 'Émile', 'Ayşe'];
const WORDS = [
  'Habe',
  'nun',
  'ach',
  'Philosophie',
  'Juristerei',
  'und',
  'Medizin',
  'leider',
  'auch',
  'Theologie',
  'durchaus',
  'studiert',
  'mit',
  'heißem',
  'Bemühn',
  'Da',
  'steh',
  'ich',
  'nun',
  'ich',
  'armer',
  'Tor',
  'bin',
  'so',
  'klug',
  'als',
  'wie',
  'zuvor',
  'Würde',
  'Größe',
  'über',
  'Mädchen',
  'schön',
  'Gretchen',
  'Faust',
  'Mephistopheles',
  'Geist',
  'Welt',
  'Natur',
  'Kraft',
  'Zeit',
];

const json = lazy(() => {
  const r = rng(12_1);
  let id = 0;
  return textUntil(SIZE, () => {
    id++;
    const name = NAMES[r() % NAMES.length]!;
    const tags = Array.from({ length: 1 + (r() % 4) }, () => `"${WORDS[r() % WORDS.length]}"`).join(',');
    return `{"id":${id},"name":"${name}","balance":${(r() % 1_000_000) / 100},"active":${r() % 2 === 0},"tags":[${tags}],"note":"€ ${r() % 997}"},\n`;
  });
});

const bitmap = lazy(() => {
  // A 512-pixel-wide grey picture: smooth gradients with noise, like a photograph.
  const r = rng(12_2);
  const out = Buffer.allocUnsafe(SIZE);
  for (let i = 0; i < SIZE; i++) {
    const x = i % 512;
    const y = (i / 512) | 0;
    out[i] = (Math.round(128 + 60 * Math.sin(x / 37) + 50 * Math.cos(y / 23)) + (r() % 9) - 4) & 0xff;
  }
  return out;
});

const prose = lazy(() => {
  const r = rng(12_3);
  return textUntil(SIZE, () => {
    const n = 4 + (r() % 9);
    const line = Array.from({ length: n }, () => WORDS[r() % WORDS.length]).join(' ');
    return `${line.charAt(0).toUpperCase()}${line.slice(1)}${r() % 3 === 0 ? '!' : ','}\n`;
  });
});

const html = lazy(() => {
  const r = rng(12_4);
  return textUntil(SIZE, () => {
    const w = () => WORDS[r() % WORDS.length];
    return `<div class="entry e${r() % 20}"><h2>${w()} ${w()}</h2><p>${w()} ${w()} <a href="/wiki/${w()}">${w()}</a> ${w()} — ${NAMES[r() % NAMES.length]}</p></div>\n`;
  });
});

const pdf = lazy(() => {
  // Compressible object headers and text between stretches of random bytes (embedded images),
  // which deflate cannot shrink.
  const r = rng(12_5);
  const parts: Buffer[] = [];
  let n = 0;
  let obj = 0;
  while (n < SIZE) {
    const head = Buffer.from(
      `${++obj} 0 obj\n<< /Type /XObject /Subtype /Image /Width ${r() % 800} /Length ${r() % 9000} >>\nstream\n`,
      'latin1',
    );
    const noise = Buffer.allocUnsafe(200 + (r() % 3000));
    for (let i = 0; i < noise.length; i++) noise[i] = r() & 0xff;
    const tail = Buffer.from('\nendstream\nendobj\n', 'latin1');
    parts.push(head, noise, tail);
    n += head.length + noise.length + tail.length;
  }
  return Buffer.concat(parts);
});

/** In Autobahn's order: 12.1 to 12.5. */
export const CORPORA: Corpus[] = [
  { title: 'JSON records', binary: false, bytes: json },
  { title: 'a bitmap picture', binary: true, bytes: bitmap },
  { title: 'German verse', binary: false, bytes: prose },
  { title: 'an HTML document', binary: false, bytes: html },
  { title: 'a PDF-like file with embedded random data', binary: true, bytes: pdf },
];

/**
 * The `k`-th message of `size` bytes cut from a corpus: a slice at a spread-out offset. Text
 * slices start on a code point and have their cut last code point replaced with ASCII, so they
 * are valid UTF-8 of exactly `size` bytes.
 */
export function slice(corpus: Corpus, size: number, k: number): Buffer {
  const all = corpus.bytes();
  let start = ((k * 2_654_435_761) >>> 0) % (all.length - size - 4);
  if (!corpus.binary) while ((all[start]! & 0xc0) === 0x80) start++;
  const out = Buffer.from(all.subarray(start, start + size));
  if (corpus.binary || size === 0) return out;
  let last = size - 1;
  while (last > 0 && (out[last]! & 0xc0) === 0x80) last--;
  const lead = out[last]!;
  const len = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
  if (last + len > size) out.fill(0x2a, last);
  return out;
}
