/**
 * Section 9, limits: messages up to wsup's default maxPayload (16 MiB) whole, fragmented and
 * chopped, round trips, and wsup's additions for what lies just beyond the limits (1009).
 *
 * Sizes follow Autobahn, and every CI run runs them all. The cases marked `long` (wsup's
 * heaviest additions) only run with WSUP_CONFORMANCE=full.
 */
import { closesNormally, failsWith, frame, got, step, type Expectation, type SessionCase, type Step } from '../../case.js';
import type { FrameSpec } from '../../wire.js';
import { allBytes, mixedText, pieces } from '../payloads.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const MAX = 16 * MiB;

/**
 * A case whose payloads are only made when it runs (and made again for judging), so that the
 * suite does not hold hundreds of MiB of payloads from the moment it is loaded.
 */
function c(id: string, title: string, make: () => [Step[], Expectation], extra: Partial<SessionCase> = {}): SessionCase {
  return {
    kind: 'session',
    id,
    title,
    get steps() {
      return make()[0];
    },
    get expect() {
      return make()[1];
    },
    ...extra,
  };
}

const size = (n: number) => (n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`);
const payload = (binary: boolean, n: number) => (binary ? allBytes(n) : mixedText(n));
const kind = (binary: boolean) => (binary ? 'binary' : 'text');
const expectEcho = (binary: boolean, p: Buffer) => closesNormally(binary ? got.binary(p) : got.text(p));
/** Big messages may take a while on a busy 2-core machine; nothing asserts on it. */
const slack = (n: number) => ({ timeout: 20_000 + Math.ceil(n / MiB) * 2_000 });

function fragments(binary: boolean, p: Buffer, fragSize: number): FrameSpec[] {
  return pieces(p, fragSize).map((piece, i, all) =>
    i === 0 ? (binary ? frame.binary : frame.text)(piece, { fin: all.length === 1 }) : frame.cont(piece, { fin: i === all.length - 1 }),
  );
}

function whole(sub: number, binary: boolean): SessionCase[] {
  return [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB].map((n, i) => {
    const make = (): [Step[], Expectation] => {
      const p = payload(binary, n);
      return [[step.send((binary ? frame.binary : frame.text)(p))], expectEcho(binary, p)];
    };
    return c(`9.${sub}.${i + 1}`, `${kind(binary)} message of ${size(n)} in one frame`, make, slack(n));
  });
}

function fragmented(sub: number, binary: boolean): SessionCase[] {
  return [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB].map((f, i) =>
    c(
      `9.${sub}.${i + 1}`,
      `${kind(binary)} message of 4 MiB in fragments of ${f < KiB ? `${f} bytes` : size(f)}`,
      () => {
        const p = payload(binary, 4 * MiB);
        return [[step.send(...fragments(binary, p, f))], expectEcho(binary, p)];
      },
      slack(4 * MiB),
    ),
  );
}

function chopped(sub: number, binary: boolean): SessionCase[] {
  return [64, 128, 256, 512, 1024, 2048].map((chop, i) =>
    c(
      `9.${sub}.${i + 1}`,
      `${kind(binary)} message of 1 MiB in chops of ${chop} octets`,
      () => {
        const p = payload(binary, MiB);
        return [[step.sendChopped(chop, (binary ? frame.binary : frame.text)(p))], expectEcho(binary, p)];
      },
      slack(MiB),
    ),
  );
}

function roundTrips(sub: number, binary: boolean): SessionCase[] {
  return [0, 16, 64, 256, 1024, 4096].map((n, i) => {
    return c(`9.${sub}.${i + 1}`, `1000 ${kind(binary)} messages of ${n} bytes, each sent after the previous echo`, () => {
      const p = payload(binary, n);
      const steps: Step[] = [];
      for (let k = 0; k < 1000; k++) steps.push(step.send((binary ? frame.binary : frame.text)(p)), step.awaitReceived(k + 1));
      return [steps, closesNormally(...Array.from({ length: 1000 }, () => (binary ? got.binary(p) : got.text(p))))];
    });
  });
}

// wsup's additions: the limits themselves.
const extras: SessionCase[] = [
  // The length in the header is enough to refuse it: the payload is only sent after the close
  // frame had its chance to arrive, and then only a little of it.
  c('9.x.1', 'text message of 16 MiB + 1 byte in one frame: 1009 from the header alone', () => {
    const head = frame.text(Buffer.alloc(0), { announcedLength: MAX + 1 });
    const some = mixedText(64 * KiB);
    return [[step.send(head), step.awaitClose(), step.mark('payload'), step.bytes(some)], { ...failsWith(1009), closeBefore: 'payload' }];
  }),
  c(
    '9.x.2',
    'binary message of 8 MiB + 8 MiB + 1 byte in two fragments: 1009 from the second header',
    () => {
      const half = allBytes(8 * MiB);
      const secondHead = frame.cont(Buffer.alloc(0), { announcedLength: 8 * MiB + 1 });
      return [
        [
          step.send(frame.binary(half, { fin: false })),
          step.send(secondHead),
          step.awaitClose(),
          step.mark('payload'),
          step.bytes(half.subarray(0, 64 * KiB)),
        ],
        { ...failsWith(1009), closeBefore: 'payload' },
      ];
    },
    slack(16 * MiB),
  ),
  c(
    '9.x.3',
    'binary message of exactly 16 MiB in 4 fragments',
    () => [[step.send(...fragments(true, allBytes(MAX), 4 * MiB))], closesNormally(got.binary(allBytes(MAX)))],
    slack(MAX),
  ),
  c('9.x.4', 'binary message of 100,000 one-byte fragments (the default maxFragments)', () => [
    [step.send(...fragments(true, allBytes(100_000), 1))],
    closesNormally(got.binary(allBytes(100_000))),
  ]),
  c('9.x.5', 'binary message of 100,001 one-byte fragments: 1009', () => [
    [step.send(...fragments(true, allBytes(100_001), 1))],
    failsWith(1009),
  ]),
  // The long run: the same paths at their most expensive.
  c(
    '9.x.6',
    'text message of 16 MiB in fragments of 256 bytes (65,536 frames)',
    () => {
      const p = mixedText(MAX);
      return [[step.send(...fragments(false, p, 256))], expectEcho(false, p)];
    },
    { ...slack(MAX), long: true },
  ),
  c(
    '9.x.7',
    'binary message of 16 MiB in chops of 64 octets',
    () => {
      const p = allBytes(MAX);
      return [[step.sendChopped(64, frame.binary(p))], expectEcho(true, p)];
    },
    { timeout: 180_000, long: true },
  ),
  c(
    '9.x.8',
    'text message of 256 KiB in octet-wise chops',
    () => {
      const p = mixedText(256 * KiB);
      return [[step.sendChopped(1, frame.text(p))], expectEcho(false, p)];
    },
    { timeout: 180_000, long: true },
  ),
  c(
    '9.x.9',
    '10,000 text messages of 64 bytes, each sent after the previous echo',
    () => {
      const p = mixedText(64);
      const steps: Step[] = [];
      for (let k = 0; k < 10_000; k++) steps.push(step.send(frame.text(p)), step.awaitReceived(k + 1));
      return [steps, closesNormally(...Array.from({ length: 10_000 }, () => got.text(p)))];
    },
    { timeout: 180_000, long: true },
  ),
];

export const section9: SessionCase[] = [
  ...whole(1, false),
  ...whole(2, true),
  ...fragmented(3, false),
  ...fragmented(4, true),
  ...chopped(5, false),
  ...chopped(6, true),
  ...roundTrips(7, false),
  ...roundTrips(8, true),
  ...extras,
];
