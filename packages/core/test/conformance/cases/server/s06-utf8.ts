/**
 * Section 6, UTF-8: valid text is echoed, invalid text fails with 1007, and as soon as the first
 * byte that cannot be part of valid UTF-8 arrives, not when the message ends (6.4.x and wsup's
 * fail-fast additions: every invalid sequence of 6.5–6.23 in a later fragment and in a later chop
 * of one frame, with the rest sent only after the close frame was given its chance to arrive).
 */
import { closesNormally, failsWith, frame, got, step, type Expectation, type SessionCase, type Step } from '../../case.js';
import { pieces } from '../payloads.js';
import { failFastPoint, KOSME, UTF8_GROUPS } from '../utf8-sequences.js';

const c = (id: string, title: string, steps: Step[], expect: Expectation): SessionCase => ({ kind: 'session', id, title, steps, expect });
const hex = (s: string) => Buffer.from(s, 'hex');

function inFragments(b: Buffer, size: number) {
  return pieces(b, size).map((p, i, all) =>
    i === 0 ? frame.text(p, { fin: all.length === 1 }) : frame.cont(p, { fin: i === all.length - 1 }),
  );
}

const HELLO_UTF8 = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!', 'utf8');
const INVALID = hex('cebae1bdb9cf83cebcceb5eda080656469746564');
const EDITED = Buffer.from('edited');

/**
 * A fail-fast case in the fragment form (PART1 as a first frame, PART2 as a continuation) or the
 * chop form (one frame announced whole, sent in three pieces). PART1 and the pause before PART2
 * give a wrong implementation the chance to fail too early; PART3 goes out only after the close
 * frame had its chance to arrive, and the close must come between the two.
 */
function failFast(id: string, title: string, part1: Buffer, part2: Buffer, part3: Buffer, form: 'frames' | 'chops'): SessionCase {
  const steps: Step[] =
    form === 'frames'
      ? [
          step.send(frame.text(part1, { fin: false })),
          step.pause(20),
          step.mark('part2'),
          step.send(frame.cont(part2, { fin: false })),
          step.awaitClose(),
          step.mark('part3'),
          step.send(frame.cont(part3)),
        ]
      : (() => {
          const whole = [frame.text(Buffer.concat([part1, part2, part3]))];
          return [
            step.sendSlice(whole, Infinity, part2.length + part3.length),
            step.pause(20),
            step.mark('part2'),
            step.sendSlice(whole, part2.length + part3.length, part3.length),
            step.awaitClose(),
            step.mark('part3'),
            step.sendSlice(whole, part3.length, 0),
          ];
        })();
  return c(id, title, steps, { ...failsWith(1007), closeAfter: 'part2', closeBefore: 'part3' });
}

const autobahn: SessionCase[] = [
  c('6.1.1', 'text message of length 0', [step.send(frame.text(''))], closesNormally(got.text(''))),
  c(
    '6.1.2',
    'fragmented text message, 3 fragments each of length 0',
    [step.send(frame.text('', { fin: false }), frame.cont('', { fin: false }), frame.cont(''))],
    closesNormally(got.text('')),
  ),
  c(
    '6.1.3',
    'fragmented text message, 3 fragments, first and last of length 0',
    [step.send(frame.text('', { fin: false }), frame.cont('middle frame payload', { fin: false }), frame.cont(''))],
    closesNormally(got.text('middle frame payload')),
  ),
  c('6.2.1', 'valid UTF-8 text message in one fragment', [step.send(frame.text(HELLO_UTF8))], closesNormally(got.text(HELLO_UTF8))),
  c(
    '6.2.2',
    'valid UTF-8 text message in two fragments, split on a code point boundary',
    [step.send(frame.text(HELLO_UTF8.subarray(0, 14), { fin: false }), frame.cont(HELLO_UTF8.subarray(14)))],
    closesNormally(got.text(HELLO_UTF8)),
  ),
  c(
    '6.2.3',
    'valid UTF-8 text message in fragments of 1 octet',
    [step.send(...inFragments(HELLO_UTF8, 1))],
    closesNormally(got.text(HELLO_UTF8)),
  ),
  c(
    '6.2.4',
    'valid UTF-8 text message (κόσμε) in fragments of 1 octet',
    [step.send(...inFragments(KOSME, 1))],
    closesNormally(got.text(KOSME)),
  ),
  c('6.3.1', 'invalid UTF-8 text message, unfragmented', [step.send(frame.text(INVALID))], failsWith(1007)),
  c('6.3.2', 'invalid UTF-8 text message in fragments of 1 octet', [step.send(...inFragments(INVALID, 1))], failsWith(1007)),
  failFast('6.4.1', 'invalid UTF-8 in the 2nd of 3 frames (U+110000): fail fast', KOSME, hex('f4908080'), EDITED, 'frames'),
  failFast(
    '6.4.2',
    'invalid UTF-8 in the 2nd of 3 frames, which stops at the offending octet: fail fast',
    Buffer.concat([KOSME, hex('f4')]),
    hex('90'),
    hex('8080656469746564'),
    'frames',
  ),
  failFast('6.4.3', 'invalid UTF-8 in the 2nd of 3 chops of one frame: fail fast', KOSME, hex('f4908080'), EDITED, 'chops'),
  failFast(
    '6.4.4',
    'invalid UTF-8 in the 2nd of 3 chops of one frame, which stops at the offending octet: fail fast',
    Buffer.concat([KOSME, hex('f4')]),
    hex('90'),
    hex('8080656469746564'),
    'chops',
  ),
];

const sequences: SessionCase[] = UTF8_GROUPS.flatMap((group, g) =>
  group.entries.map(({ valid, bytes }, i) =>
    c(
      `6.${g + 5}.${i + 1}`,
      `${group.title}: ${valid ? 'valid' : 'invalid'} 0x${bytes.toString('hex')}`,
      [step.send(frame.text(bytes))],
      valid ? closesNormally(got.text(bytes)) : failsWith(1007),
    ),
  ),
);

// Every invalid sequence that is detectably invalid before its end, surrounded by valid text and
// cut right after the first byte that makes it invalid, in both forms.
const failFastExtras: SessionCase[] = (() => {
  const out: SessionCase[] = [];
  let n = 1;
  UTF8_GROUPS.forEach((group, g) => {
    group.entries.forEach(({ valid, bytes }, i) => {
      const at = failFastPoint(bytes);
      if (valid || at === bytes.length) return;
      const bad = bytes.subarray(0, at + 1);
      const rest = Buffer.concat([bytes.subarray(at + 1), EDITED]);
      for (const form of ['frames', 'chops'] as const) {
        out.push(
          failFast(
            `6.x.${n++}`,
            `fail fast on 6.${g + 5}.${i + 1} (0x${bytes.toString('hex')}) in a later ${form === 'frames' ? 'fragment' : 'chop'}`,
            KOSME,
            bad,
            rest,
            form,
          ),
        );
      }
    });
  });
  return out;
})();

export const section6: SessionCase[] = [...autobahn, ...sequences, ...failFastExtras];
