/**
 * The UTF-8 test sequences of Autobahn's cases 6.5–6.23, in Autobahn's order (so case numbers
 * match), taken from Markus Kuhn's UTF-8 decoder stress test. Each group is a subsection; each
 * entry is one case: the payload and whether it is valid UTF-8.
 */
import { isUtf8 } from '../wire.js';

export interface Utf8Group {
  title: string;
  entries: { valid: boolean; bytes: Buffer }[];
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string) => Buffer.from(s, 'latin1');
const valid = (...list: Buffer[]) => list.map((bytes) => ({ valid: true, bytes }));
const invalid = (...list: Buffer[]) => list.map((bytes) => ({ valid: false, bytes }));

/** κόσμε, the Greek word Kuhn's file starts with: 2- and 3-byte sequences. */
export const KOSME = hex('cebae1bdb9cf83cebcceb5');

function range(from: number, to: number, withSpace: boolean): Buffer {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(...(withSpace ? [i, 0x20] : [i]));
  return Buffer.from(out);
}

/** Non-characters U+xFFFE/U+xFFFF of every plane, as 4-byte sequences (6.22). */
function planeNonCharacters(): Buffer[] {
  const out: Buffer[] = [];
  for (const z1 of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    for (const z2 of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (z1 === 0xf4 && z2 !== 0x8f) continue; // beyond U+10FFFF
      for (const z3 of [0xbe, 0xbf]) {
        if (z1 === 0xf0 && z2 === 0x8f) continue; // overlong
        out.push(Buffer.from([z1, z2, 0xbf, z3]));
      }
    }
  }
  return out;
}

const missingLast = [
  hex('c0'),
  hex('e080'),
  hex('f08080'),
  hex('f8808080'),
  hex('fc80808080'),
  hex('df'),
  hex('efbf'),
  hex('f7bfbf'),
  hex('fbbfbfbf'),
  hex('fdbfbfbfbf'),
];

export const UTF8_GROUPS: Utf8Group[] = [
  {
    title: 'Some valid UTF-8 sequences',
    entries: valid(
      ascii('hello$world'),
      hex('68656c6c6fc2a2776f726c64'),
      hex('68656c6c6fe282ac776f726c64'),
      hex('68656c6c6ff0a4ada2776f726c64'),
      KOSME,
    ),
  },
  {
    title: 'All prefixes of a valid UTF-8 string that contains multi-byte code points',
    entries: Array.from({ length: KOSME.length }, (_, i) => KOSME.subarray(0, i + 1)).map((bytes) => ({ valid: isUtf8(bytes), bytes })),
  },
  { title: 'First possible sequence of a certain length', entries: valid(hex('00'), hex('c280'), hex('e0a080'), hex('f0908080')) },
  { title: 'First possible sequence length 5/6 (invalid codepoints)', entries: invalid(hex('f888808080'), hex('fc8480808080')) },
  { title: 'Last possible sequence of a certain length', entries: valid(hex('7f'), hex('dfbf'), hex('efbfbf'), hex('f48fbfbf')) },
  {
    title: 'Last possible sequence length 4/5/6 (invalid codepoints)',
    entries: invalid(hex('f7bfbfbf'), hex('fbbfbfbfbf'), hex('fdbfbfbfbfbf')),
  },
  {
    title: 'Other boundary conditions',
    entries: [...valid(hex('ed9fbf'), hex('ee8080'), hex('efbfbd'), hex('f48fbfbf')), ...invalid(hex('f4908080'))],
  },
  {
    title: 'Unexpected continuation bytes',
    entries: invalid(
      hex('80'),
      hex('bf'),
      hex('80bf'),
      hex('80bf80'),
      hex('80bf80bf'),
      hex('80bf80bf80'),
      hex('80bf80bf80bf'),
      range(0x80, 0xbf, false),
    ),
  },
  {
    title: 'Lonely start characters',
    entries: invalid(
      range(0xc0, 0xdf, true),
      range(0xe0, 0xef, true),
      range(0xf0, 0xf7, true),
      range(0xf8, 0xfb, true),
      range(0xfc, 0xfd, true),
    ),
  },
  { title: 'Sequences with last continuation byte missing', entries: invalid(...missingLast) },
  { title: 'Concatenation of incomplete sequences', entries: invalid(Buffer.concat(missingLast)) },
  { title: 'Impossible bytes', entries: invalid(hex('fe'), hex('ff'), hex('fefeffff')) },
  {
    title: 'Examples of an overlong ASCII character',
    entries: invalid(hex('c0af'), hex('e080af'), hex('f08080af'), hex('f8808080af'), hex('fc80808080af')),
  },
  {
    title: 'Maximum overlong sequences',
    entries: invalid(hex('c1bf'), hex('e09fbf'), hex('f08fbfbf'), hex('f887bfbfbf'), hex('fc83bfbfbfbf')),
  },
  {
    title: 'Overlong representation of the NUL character',
    entries: invalid(hex('c080'), hex('e08080'), hex('f0808080'), hex('f880808080'), hex('fc8080808080')),
  },
  {
    title: 'Single UTF-16 surrogates',
    entries: invalid(hex('eda080'), hex('edadbf'), hex('edae80'), hex('edafbf'), hex('edb080'), hex('edbe80'), hex('edbfbf')),
  },
  {
    title: 'Paired UTF-16 surrogates',
    entries: invalid(
      hex('eda080edb080'),
      hex('eda080edbfbf'),
      hex('edadbfedb080'),
      hex('edadbfedbfbf'),
      hex('edae80edb080'),
      hex('edae80edbfbf'),
      hex('edafbfedb080'),
      hex('edafbfedbfbf'),
    ),
  },
  { title: 'Non-character code points (valid UTF-8)', entries: valid(hex('efbfbe'), hex('efbfbf'), ...planeNonCharacters()) },
  {
    title: 'Unicode specials (i.e. replacement char)',
    entries: valid(hex('efbfb9'), hex('efbfba'), hex('efbfbb'), hex('efbfbc'), hex('efbfbd'), hex('efbfbe'), hex('efbfbf')),
  },
];

/**
 * Length of the longest prefix of `b` that can still be completed into valid UTF-8: the byte at
 * that index is where a fail-fast validator must stop. Equals `b.length` when `b` is only invalid
 * because it ends inside a sequence (or is valid).
 */
export function failFastPoint(b: Buffer): number {
  const d = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < b.length; i++) {
    try {
      d.decode(b.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  return b.length;
}
