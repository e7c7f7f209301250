/** Section 1, framing: text and binary messages at every length-encoding boundary. */
import { closesNormally, frame, got, step, type SessionCase } from '../../case.js';
import { fe, mixedText, stars } from '../payloads.js';

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

function echo(id: string, title: string, binary: boolean, payload: Buffer | string, chop?: number): SessionCase {
  const f = binary ? frame.binary(payload) : frame.text(payload);
  return {
    kind: 'session',
    id,
    title,
    steps: [chop === undefined ? step.send(f) : step.sendChopped(chop, f)],
    expect: closesNormally(binary ? got.binary(payload) : got.text(payload)),
  };
}

const autobahn = (sub: 1 | 2, binary: boolean): SessionCase[] => [
  ...LENGTHS.map((n, i) =>
    echo(`1.${sub}.${i + 1}`, `${binary ? 'binary' : 'text'} message of ${n} bytes`, binary, binary ? fe(n) : stars(n)),
  ),
  echo(
    `1.${sub}.8`,
    `${binary ? 'binary' : 'text'} message of 65536 bytes in chops of 997 octets`,
    binary,
    binary ? fe(65536) : stars(65536),
    997,
  ),
];

// wsup's additions: headers split octet by octet, and 65536*N bytes in chops that cut code points.
const extras = (): SessionCase[] => {
  const out: SessionCase[] = [];
  let n = 1;
  for (const binary of [false, true]) {
    for (const len of [0, 125, 126, 127, 128]) {
      out.push(
        echo(
          `1.x.${n++}`,
          `${binary ? 'binary' : 'text'} message of ${len} bytes in octet-wise chops`,
          binary,
          binary ? fe(len) : mixedText(len),
          1,
        ),
      );
    }
    for (const [len, chop] of [
      [65536 * 4, 1021],
      [65536 * 16, undefined],
      [65536 * 16, 65535],
    ] as const) {
      const title = `${binary ? 'binary' : 'text'} message of ${len} bytes${chop ? ` in chops of ${chop} octets` : ''}`;
      out.push(echo(`1.x.${n++}`, title, binary, binary ? fe(len) : mixedText(len), chop));
    }
    // The 64-bit length (and the mask key) split octet by octet, then the payload in one piece.
    const payload = binary ? fe(65536) : mixedText(65536);
    const f = binary ? frame.binary(payload) : frame.text(payload);
    out.push({
      kind: 'session',
      id: `1.x.${n++}`,
      title: `${binary ? 'binary' : 'text'} message of 65536 bytes whose header arrives octet by octet`,
      steps: [step.sendSlice([f], Infinity, payload.length, 1), step.sendSlice([f], payload.length, 0)],
      expect: closesNormally(binary ? got.binary(payload) : got.text(payload)),
    });
  }
  return out;
};

export const section1: SessionCase[] = [...autobahn(1, false), ...autobahn(2, true), ...extras()];
