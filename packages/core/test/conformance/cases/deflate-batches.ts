/**
 * The message batches of Autobahn's sections 12 and 13: 18 cases per subsection, messages of 16 B
 * to 128 KiB compressed by the scripted peer, the last eight also cut into frames of 256 octets
 * of compressed payload. Each case sends its batch back to back and expects every echo, inflated
 * to what was sent, with RSV1 exactly when the implementation compresses (at or above its
 * threshold).
 *
 * Autobahn sends 1000 messages per case; WSUP_CONFORMANCE=full does too. The default run sends
 * fewer (up to 40, about 256 KiB per case), enough to carry context from message to message.
 */
import { closesNormally, got, step, type Expectation, type SessionCase, type Step } from '../case.js';
import { CORPORA, slice, type Corpus } from './corpora.js';

export const FULL = process.env.WSUP_CONFORMANCE === 'full';

const SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072];
const FRAGMENTED = [256, 1024, 4096, 8192, 16384, 32768, 65536, 131072];
const FRAGMENT = 256;

/** Messages per case. */
export function repetitions(size: number): number {
  return FULL ? 1000 : Math.max(4, Math.min(40, Math.round((256 * 1024) / size)));
}

const sizeText = (n: number) => (n >= 1024 ? `${n / 1024} KiB` : `${n} B`);

/** What a batch case needs besides its messages: how it connects and what is agreed. */
export type BatchBase = Pick<SessionCase, 'subject' | 'offer' | 'answer'>;

/**
 * One batch: `count` messages of `size` bytes from `corpus`, each compressed, sent at once,
 * echoed. Payloads are made when the case runs (and again for judging), not when it is loaded.
 */
export function batch(
  id: string,
  corpus: Corpus,
  size: number,
  fragment: number | undefined,
  base: BatchBase,
  threshold = 1024,
): SessionCase {
  const count = repetitions(size);
  const make = (): [Step[], Expectation] => {
    const steps: Step[] = [];
    const expected = [];
    for (let k = 0; k < count; k++) {
      const p = slice(corpus, size, k);
      steps.push(step.sendDeflated(corpus.binary, p, fragment));
      expected.push(corpus.binary ? got.binary(p, size >= threshold) : got.text(p, size >= threshold));
    }
    return [steps, closesNormally(...expected)];
  };
  return {
    kind: 'session',
    id,
    title: `${count} compressed ${corpus.binary ? 'binary' : 'text'} messages of ${sizeText(size)} of ${corpus.title}${fragment ? `, in frames of ${fragment} octets` : ''}`,
    ...base,
    get steps() {
      return make()[0];
    },
    get expect() {
      return make()[1];
    },
    timeout: FULL ? 300_000 : 20_000,
  };
}

/** Autobahn's 18 cases of one subsection `prefix` (e.g. "12.3"). */
export function batches(prefix: string, corpus: Corpus, base: BatchBase, threshold = 1024): SessionCase[] {
  return [
    ...SIZES.map((size, i) => batch(`${prefix}.${i + 1}`, corpus, size, undefined, base, threshold)),
    ...FRAGMENTED.map((size, i) => batch(`${prefix}.${SIZES.length + i + 1}`, corpus, size, FRAGMENT, base, threshold)),
  ];
}

/**
 * Traffic for the parameter cases: text and binary of 16 B (below the threshold), 1500 B, 20 KB
 * and 40 KB (beyond a 15-bit window), twice over, compressed by the scripted peer and echoed.
 */
export function traffic(threshold = 1024): [Step[], Expectation] {
  const [json, bitmap] = CORPORA as [Corpus, Corpus];
  const steps: Step[] = [];
  const expected = [];
  for (let k = 0; k < 8; k++) {
    const size = [16, 1500, 20_000, 40_000][k % 4]!;
    const t = slice(json, size, k);
    const b = slice(bitmap, size, k);
    steps.push(step.sendDeflated(false, t), step.sendDeflated(true, b));
    expected.push(got.text(t, size >= threshold), got.binary(b, size >= threshold));
  }
  return [steps, closesNormally(...expected)];
}
