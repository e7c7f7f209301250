/**
 * Section 12, wsup's additions: permessage-deflate misused by the client. RSV1 where RFC 7692
 * does not allow it (1002), data that does not inflate (1007), text that inflates to invalid
 * UTF-8 (1007, as soon as the inflated bytes show it) and messages that inflate past maxPayload
 * (1009, as soon as they cross it, without inflating the rest).
 */
import { failsWith, frame, step, type Expectation, type SessionCase, type Step } from '../../case.js';
import { deflateAlone, deflateSegments } from '../../deflate-codec.js';
import { KOSME } from '../utf8-sequences.js';

type Base = Pick<SessionCase, 'subject' | 'offer' | 'answer'>;
const agreed: Base = { subject: 'pmd', offer: { extensions: 'permessage-deflate' }, answer: 'permessage-deflate' };
const small: Base = { subject: 'pmd-64k', offer: { extensions: 'permessage-deflate' }, answer: 'permessage-deflate' };
/** Nothing offered: RSV1 means nothing. */
const none: Base = { subject: 'pmd' };
/** Offered, but this wsup does not compress: declined, so RSV1 means nothing either. */
const declined: Base = { subject: '', offer: { extensions: 'permessage-deflate' }, answer: null };

let n = 20;
const c = (title: string, base: Base, steps: Step[], expect: Expectation): SessionCase => ({
  kind: 'session',
  id: `12.x.${n++}`,
  title,
  ...base,
  steps,
  expect,
});

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const HELLO = hex('f248cdc9c90700');
const deflated = (payload: Buffer, o: { fin?: boolean } = {}) => frame.text(payload, { rsv: 4, ...o });

/**
 * A compressed text message in three deflate segments, each flushed so that its inflated bytes
 * are complete when it arrives; PART2 holds the fault. As the UTF-8 fail-fast cases of section 6:
 * the close frame must come after PART2 was sent and before PART3 is.
 */
function failFast(title: string, base: Base, segments: Buffer[], code: number, form: 'frames' | 'chops'): SessionCase {
  const [a, b, rest] = segments as [Buffer, Buffer, Buffer];
  const steps: Step[] =
    form === 'frames'
      ? [
          step.send(deflated(a, { fin: false })),
          step.pause(20),
          step.mark('part2'),
          step.send(frame.cont(b, { fin: false })),
          step.awaitClose(),
          step.mark('part3'),
          step.send(frame.cont(rest)),
        ]
      : (() => {
          const whole = [deflated(Buffer.concat([a, b, rest]))];
          return [
            step.sendSlice(whole, Infinity, b.length + rest.length),
            step.pause(20),
            step.mark('part2'),
            step.sendSlice(whole, b.length + rest.length, rest.length),
            step.awaitClose(),
            step.mark('part3'),
            step.sendSlice(whole, rest.length, 0),
          ];
        })();
  return c(title, base, steps, { ...failsWith(code), closeAfter: 'part2', closeBefore: 'part3' });
}

const EDITED = Buffer.from('edited');
/** Zeros compress about 1000:1: a bomb. */
const zeros = (n: number) => Buffer.alloc(n);

const rsv1: SessionCase[] = [
  c(
    'RSV1 on the continuation frame of a compressed message',
    agreed,
    [step.send(deflated(hex('f248cd'), { fin: false }), frame.cont(hex('c9c90700'), { rsv: 4 }))],
    failsWith(1002),
  ),
  c(
    'RSV1 on the continuation frame of a plain message',
    agreed,
    [step.send(frame.text('Hel', { fin: false }), frame.cont('lo', { rsv: 4 }))],
    failsWith(1002),
  ),
  c('RSV1 on a ping', agreed, [step.send(frame.ping('x', { rsv: 4 }))], failsWith(1002)),
  c('RSV1 on a pong', agreed, [step.send(frame.pong('x', { rsv: 4 }))], failsWith(1002)),
  c(
    'RSV1 on a ping between the fragments of a compressed message',
    agreed,
    [step.send(deflated(hex('f248cd'), { fin: false }), frame.ping('x', { rsv: 4 }), frame.cont(hex('c9c90700')))],
    failsWith(1002),
  ),
  // Our (malformed) close frame goes first, so wsup's 1002 comes as the second close frame.
  c('RSV1 on a close frame', agreed, [step.send(frame.close(1000, '', { rsv: 4 }))], { received: [], closedBy: 'us', closeCode: 1002 }),
  c('RSV1 on a compressed message when nothing was offered', none, [step.send(deflated(HELLO))], failsWith(1002)),
  c('RSV1 on a compressed message when the offer was declined', declined, [step.send(deflated(HELLO))], failsWith(1002)),
  c(
    'RSV2 on a compressed message (permessage-deflate only owns RSV1)',
    agreed,
    [step.send(frame.text(HELLO, { rsv: 6 }))],
    failsWith(1002),
  ),
];

const corrupt: SessionCase[] = [
  c('compressed message that is not deflate data (block type 3)', agreed, [step.send(deflated(hex('ffffff')))], failsWith(1007)),
  c(
    'compressed message that refers back past the start of the stream',
    agreed,
    [step.send(deflated(deflateAlone('Hello, Hello, Hello', { dictionary: Buffer.from('Hello, Hello, Hello') })))],
    failsWith(1007),
  ),
  c(
    'compressed binary message with an invalid stored-block length',
    agreed,
    [step.send(frame.binary(hex('0005000000 48656c6c6f'), { rsv: 4 }))],
    failsWith(1007),
  ),
  failFast(
    'corrupt deflate data in the 2nd of 3 frames: fail fast',
    agreed,
    [deflateSegments([KOSME, EDITED])[0]!, hex('ffffff'), EDITED],
    1007,
    'frames',
  ),
  failFast(
    'corrupt deflate data in the 2nd of 3 chops of one frame: fail fast',
    agreed,
    [deflateSegments([KOSME, EDITED])[0]!, hex('ffffff'), EDITED],
    1007,
    'chops',
  ),
];

const utf8: SessionCase[] = [
  c(
    'compressed text that inflates to invalid UTF-8',
    agreed,
    [step.send(deflated(deflateAlone(hex('cebae1bdb9cf83cebcceb5eda080656469746564'))))],
    failsWith(1007),
  ),
  c(
    'compressed text that inflates to a message ending inside a code point',
    agreed,
    [step.send(deflated(deflateAlone(hex('68656c6c6fe282'))))],
    failsWith(1007),
  ),
  c(
    'compressed text in 1-octet frames that inflates to invalid UTF-8',
    agreed,
    [step.sendDeflated(false, hex('cebae1bdb9cf83cebcceb5eda080656469746564'), 1)],
    { ...failsWith(1007) },
  ),
  failFast(
    'invalid UTF-8 (U+110000) inflated from the 2nd of 3 frames: fail fast',
    agreed,
    deflateSegments([KOSME, hex('f4908080'), EDITED]),
    1007,
    'frames',
  ),
  failFast(
    'invalid UTF-8 (U+110000) inflated from the 2nd of 3 chops: fail fast',
    agreed,
    deflateSegments([KOSME, hex('f4908080'), EDITED]),
    1007,
    'chops',
  ),
  failFast(
    'invalid UTF-8 (a lone continuation octet) inflated from the 2nd of 3 frames: fail fast',
    agreed,
    deflateSegments([KOSME, hex('80'), EDITED]),
    1007,
    'frames',
  ),
  failFast(
    'invalid UTF-8 (an overlong 0xc0 0xaf) inflated from the 2nd of 3 frames: fail fast',
    agreed,
    deflateSegments([KOSME, hex('c0af'), EDITED]),
    1007,
    'frames',
  ),
];

const bombs: SessionCase[] = [
  c(
    'bomb: 1 MiB of zeros in 1 KiB, maxPayload 64 KiB: 1009',
    small,
    [step.send(frame.binary(deflateAlone(zeros(1 << 20), { level: 9 }), { rsv: 4 }))],
    failsWith(1009),
  ),
  failFast(
    'bomb in the 2nd of 3 frames (64 KiB + 1 of zeros), maxPayload 64 KiB: fail fast',
    small,
    deflateSegments([Buffer.from('a'), zeros(64 * 1024), zeros(1 << 20)]),
    1009,
    'frames',
  ),
  failFast(
    'bomb in the 2nd of 3 chops of one frame, maxPayload 64 KiB: fail fast',
    small,
    deflateSegments([Buffer.from('a'), zeros(64 * 1024), zeros(1 << 20)]),
    1009,
    'chops',
  ),
  {
    kind: 'session',
    id: `12.x.${n++}`,
    title: 'bomb: 16 MiB + 1 of zeros (the default maxPayload) in one frame: 1009',
    ...agreed,
    get steps() {
      return [step.send(frame.binary(deflateAlone(zeros(16 * 1024 * 1024 + 1), { level: 9 }), { rsv: 4 }))];
    },
    expect: failsWith(1009),
  },
];

export const section12Misuse: SessionCase[] = [...rsv1, ...corrupt, ...utf8, ...bombs];
