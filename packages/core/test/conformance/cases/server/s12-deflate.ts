/**
 * Section 12, permessage-deflate with different payloads: Autobahn's 12.1–12.5 under Autobahn's
 * default offer, and wsup's additions (12.x): RFC 7692's own examples, empty and tiny messages,
 * compressed messages around control frames and plain messages, chops, and the size limit.
 * Misuse of the extension is in s12-deflate-misuse.ts.
 */
import { closesNormally, failsWith, frame, got, step, type Expectation, type SessionCase, type Step } from '../../case.js';
import { deflateAlone } from '../../deflate-codec.js';
import { CORPORA, slice } from '../corpora.js';
import { batches } from '../deflate-batches.js';
import { allBytes, mixedText } from '../payloads.js';

/** What Autobahn offers when it tests a server (its default permessage-deflate offer). */
export const AUTOBAHN_OFFER = 'permessage-deflate; client_no_context_takeover; client_max_window_bits';
/** How wsup (compress: true) answers it: it confirms the client's promise not to keep context. */
export const AUTOBAHN_ANSWER = 'permessage-deflate; client_no_context_takeover';

const autobahnBase = { subject: 'pmd', offer: { extensions: AUTOBAHN_OFFER }, answer: AUTOBAHN_ANSWER };

const autobahn: SessionCase[] = CORPORA.flatMap((corpus, i) => batches(`12.${i + 1}`, corpus, autobahnBase));

// ---- wsup's additions ----

type Base = Pick<SessionCase, 'subject' | 'offer' | 'answer'>;
/** The plainest agreement: context takeover both ways, 15-bit windows. */
const plain: Base = { subject: 'pmd', offer: { extensions: 'permessage-deflate' }, answer: 'permessage-deflate' };
/** wsup configured to compress every message, however small (threshold 0). */
const everything: Base = { subject: 'pmd-t0', offer: { extensions: 'permessage-deflate' }, answer: 'permessage-deflate' };
/** wsup with maxPayload 64 KiB. */
const small: Base = { subject: 'pmd-64k', offer: { extensions: 'permessage-deflate' }, answer: 'permessage-deflate' };

const c = (id: string, title: string, base: Base, steps: Step[], expect: Expectation, extra: Partial<SessionCase> = {}): SessionCase => ({
  kind: 'session',
  id,
  title,
  ...base,
  steps,
  expect,
  ...extra,
});

/** A case whose payloads are only made when it runs (see s09). */
function lazy(id: string, title: string, base: Base, make: () => [Step[], Expectation], extra: Partial<SessionCase> = {}): SessionCase {
  return {
    kind: 'session',
    id,
    title,
    ...base,
    get steps() {
      return make()[0];
    },
    get expect() {
      return make()[1];
    },
    ...extra,
  };
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** A text frame with RSV1 carrying a hand-made compressed payload. */
const deflatedText = (payload: Buffer, o: { fin?: boolean } = {}) => frame.text(payload, { rsv: 4, ...o });
const HELLO = 'Hello';

// RFC 7692 §7.2.3: "Hello" compressed in each of the ways the RFC shows.
const rfcExamples: SessionCase[] = [
  c(
    '12.x.1',
    'RFC 7692 §7.2.3.1: "Hello" in one compressed block',
    plain,
    [step.send(deflatedText(hex('f248cdc9c90700')))],
    closesNormally(got.text(HELLO, false)),
  ),
  c(
    '12.x.2',
    'RFC 7692 §7.2.3.2: a second "Hello" that refers to the first through the shared window',
    plain,
    [step.send(deflatedText(hex('f248cdc9c90700')), deflatedText(hex('f200110000')))],
    closesNormally(got.text(HELLO, false), got.text(HELLO, false)),
  ),
  c(
    '12.x.3',
    'RFC 7692 §7.2.3.3: "Hello" in a block with no compression',
    plain,
    [step.send(deflatedText(hex('000500faff48656c6c6f00')))],
    closesNormally(got.text(HELLO, false)),
  ),
  c(
    '12.x.4',
    'RFC 7692 §7.2.3.4: "Hello" in a block with BFINAL set, then a second message',
    plain,
    [step.send(deflatedText(hex('f348cdc9c9070000')), deflatedText(hex('f248cdc9c90700')))],
    closesNormally(got.text(HELLO, false), got.text(HELLO, false)),
  ),
  c(
    '12.x.5',
    'RFC 7692 §7.2.3.5: "Hello" in two compressed blocks',
    plain,
    [step.send(deflatedText(hex('f248050000 00ffff cac9c90700')))],
    closesNormally(got.text(HELLO, false)),
  ),
  c(
    '12.x.6',
    'RFC 7692 §7.2.3.6: the compressed empty message (one 0x00 octet)',
    plain,
    [step.send(deflatedText(hex('00')))],
    closesNormally(got.text('', false)),
  ),
  c(
    '12.x.7',
    'RFC 7692 §7.2.1: "Hello" compressed and fragmented, RSV1 on the first frame only',
    plain,
    [step.send(deflatedText(hex('f248cd'), { fin: false }), frame.cont(hex('c9c90700')))],
    closesNormally(got.text(HELLO, false)),
  ),
];

const json = CORPORA[0]!;
const bitmap = CORPORA[1]!;

const dataPath: SessionCase[] = [
  c(
    '12.x.8',
    'empty text and binary messages, compressed by us',
    plain,
    [step.sendDeflated(false, ''), step.sendDeflated(true, '')],
    closesNormally(got.text('', false), got.binary('', false)),
  ),
  c(
    '12.x.9',
    'threshold 0: empty and 1-byte messages come back compressed',
    everything,
    [
      step.sendDeflated(false, ''),
      step.sendDeflated(true, ''),
      step.sendDeflated(false, 'a'),
      step.sendDeflated(true, Buffer.from([0xfe])),
    ],
    closesNormally(got.text('', true), got.binary('', true), got.text('a', true), got.binary(Buffer.from([0xfe]), true)),
  ),
  c(
    '12.x.10',
    'threshold 0: the same message 20 times (the window shrinks each echo to a few bytes)',
    everything,
    Array.from({ length: 20 }, () => step.sendDeflated(false, slice(json, 3000, 1))),
    closesNormally(...Array.from({ length: 20 }, () => got.text(slice(json, 3000, 1), true))),
  ),
  c(
    '12.x.11',
    'the threshold is 1024 bytes: 1023 plain, 1024 compressed',
    plain,
    [
      step.sendDeflated(false, mixedText(1023)),
      step.sendDeflated(false, mixedText(1024)),
      step.sendDeflated(true, allBytes(1023)),
      step.sendDeflated(true, allBytes(1024)),
    ],
    closesNormally(
      got.text(mixedText(1023), false),
      got.text(mixedText(1024), true),
      got.binary(allBytes(1023), false),
      got.binary(allBytes(1024), true),
    ),
  ),
  c(
    '12.x.12',
    'compressed message in 3 frames with a ping between each',
    plain,
    (() => {
      const p = deflateAlone(slice(json, 4000, 2));
      const a = p.subarray(0, 100);
      const b = p.subarray(100, 200);
      const rest = p.subarray(200);
      return [
        step.send(deflatedText(a, { fin: false }), frame.ping('p1'), frame.cont(b, { fin: false }), frame.ping('p2'), frame.cont(rest)),
      ];
    })(),
    closesNormally(got.pong('p1'), got.pong('p2'), got.text(slice(json, 4000, 2), true)),
  ),
  c(
    '12.x.13',
    'plain messages between compressed ones do not enter the compression context',
    plain,
    [0, 1, 2, 3, 4, 5].map((k) =>
      k % 2 === 0 ? step.sendDeflated(false, slice(json, 2000, 7)) : step.send(frame.text(slice(json, 2000, 7 + k))),
    ),
    closesNormally(...[0, 1, 2, 3, 4, 5].map((k) => got.text(slice(json, 2000, k % 2 === 0 ? 7 : 7 + k), true))),
  ),
  c(
    '12.x.14',
    'compressed message in octet-wise chops',
    plain,
    [step.sendChopped(1, deflatedText(deflateAlone(slice(json, 1500, 3))))],
    closesNormally(got.text(slice(json, 1500, 3), true)),
  ),
  c(
    '12.x.15',
    'compressed message in frames of 1 octet of compressed payload',
    plain,
    [step.sendDeflated(true, slice(bitmap, 2048, 4), 1)],
    closesNormally(got.binary(slice(bitmap, 2048, 4), true)),
  ),
  lazy(
    '12.x.16',
    'compressed text message of 4 MiB',
    plain,
    () => [[step.sendDeflated(false, mixedText(4 << 20))], closesNormally(got.text(mixedText(4 << 20), true))],
    {
      timeout: 30_000,
    },
  ),
  lazy('12.x.17', 'compressed binary message of exactly maxPayload (64 KiB) inflated, in frames of 1000 octets', small, () => [
    [step.sendDeflated(true, allBytes(64 * 1024), 1000)],
    closesNormally(got.binary(allBytes(64 * 1024), true)),
  ]),
  c(
    '12.x.18',
    'compressed text message of maxPayload + 1 byte inflated: 1009',
    small,
    [step.sendDeflated(false, mixedText(64 * 1024 + 1))],
    failsWith(1009),
  ),
  c(
    '12.x.19',
    'compressed message of 64 KiB + 1 inflated, spread over 100 frames: 1009',
    small,
    [step.sendDeflated(true, allBytes(64 * 1024 + 1), Math.ceil(deflateAlone(allBytes(64 * 1024 + 1)).length / 100))],
    failsWith(1009),
  ),
];

export const section12: SessionCase[] = [...autobahn, ...rfcExamples, ...dataPath];
