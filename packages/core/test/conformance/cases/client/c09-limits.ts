/**
 * Client suite, limits: maxPayload and maxFragments of the client's own options (1009), failed
 * from the frame header where it already tells, before the payload is sent.
 */
import { closesNormally, failsWith, frame, got, step, type Expectation, type SessionCase, type Step } from '../../case.js';
import { allBytes, mixedText, pieces } from '../payloads.js';

const KiB = 1024;
const TOO_BIG = { code: 1009, wasClean: false, error: 'ERR_PAYLOAD_TOO_LARGE' };

let n = 1;
const c = (title: string, subject: string, steps: Step[], expect: Expectation): SessionCase => ({
  kind: 'session',
  id: `9.c.${n++}`,
  title,
  subject,
  steps,
  expect,
});

const fragments = (p: Buffer, size: number) =>
  pieces(p, size).map((x, i, all) => (i === 0 ? frame.binary(x, { fin: all.length === 1 }) : frame.cont(x, { fin: i === all.length - 1 })));

export const clientSection9: SessionCase[] = [
  c(
    'maxPayload 64 KiB: a text message of exactly 64 KiB is echoed',
    'max64k',
    [step.send(frame.text(mixedText(64 * KiB)))],
    closesNormally(got.text(mixedText(64 * KiB))),
  ),
  c(
    'maxPayload 64 KiB: a binary message of 64 KiB + 1 fails from its header alone',
    'max64k',
    [
      step.send(frame.binary(Buffer.alloc(0), { announcedLength: 64 * KiB + 1 })),
      step.awaitClose(),
      step.mark('payload'),
      step.bytes(allBytes(64 * KiB + 1)),
    ],
    { ...failsWith(1009), closeBefore: 'payload', reported: TOO_BIG },
  ),
  c(
    'maxPayload 64 KiB: 32 KiB, then a fragment announcing 32 KiB + 1, fails from the second header',
    'max64k',
    [
      step.send(frame.binary(allBytes(32 * KiB), { fin: false })),
      step.send(frame.cont(Buffer.alloc(0), { announcedLength: 32 * KiB + 1 })),
      step.awaitClose(),
      step.mark('payload'),
      step.bytes(allBytes(32 * KiB + 1)),
    ],
    { ...failsWith(1009), closeBefore: 'payload', reported: TOO_BIG },
  ),
  c(
    'maxFragments 10: a message in 10 fragments is echoed',
    'frag10',
    [step.send(...fragments(allBytes(100), 10))],
    closesNormally(got.binary(allBytes(100))),
  ),
  c('maxFragments 10: a message in 11 fragments: 1009', 'frag10', [step.send(...fragments(allBytes(110), 10))], {
    ...failsWith(1009),
    reported: { code: 1009, wasClean: false, error: 'ERR_TOO_MANY_FRAGMENTS' },
  }),
];
