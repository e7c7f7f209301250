/** Section 4, reserved opcodes 3–7 (data) and 11–15 (control): fail with 1002. */
import { failsWith, frame, got, step, type SessionCase } from '../../case.js';

const HELLO = 'Hello, world!';
const PAYLOAD = 'reserved opcode payload';

function group(sub: 1 | 2, opcodes: number[]): SessionCase[] {
  const kind = sub === 1 ? 'non-control' : 'control';
  const [a, b, c, d, e] = opcodes as [number, number, number, number, number];
  const mk = (n: number, title: string, frames: ReturnType<typeof frame.raw>[], echoed: boolean): SessionCase => ({
    kind: 'session',
    id: `4.${sub}.${n}`,
    title,
    steps: [step.send(...frames)],
    expect: echoed ? failsWith(1002, got.text(HELLO)) : failsWith(1002),
  });
  return [
    mk(1, `reserved ${kind} opcode ${a}`, [frame.raw(a)], false),
    mk(2, `reserved ${kind} opcode ${b} with payload`, [frame.raw(b, PAYLOAD)], false),
    mk(3, `text message, then reserved ${kind} opcode ${c}, then ping`, [frame.text(HELLO), frame.raw(c), frame.ping()], true),
    mk(
      4,
      `text message, then reserved ${kind} opcode ${d} with payload, then ping`,
      [frame.text(HELLO), frame.raw(d, PAYLOAD), frame.ping()],
      true,
    ),
    mk(
      5,
      `text message, then reserved ${kind} opcode ${e} with payload, then ping`,
      [frame.text(HELLO), frame.raw(e, PAYLOAD), frame.ping()],
      true,
    ),
  ];
}

// wsup's additions: reserved opcodes inside a fragmented message, and unfinished.
const extras: SessionCase[] = [
  {
    kind: 'session',
    id: '4.x.1',
    title: 'reserved opcode 3 between two fragments of a text message',
    steps: [step.send(frame.text('fragment1', { fin: false }), frame.raw(3, PAYLOAD), frame.cont('fragment2'))],
    expect: failsWith(1002),
  },
  {
    kind: 'session',
    id: '4.x.2',
    title: 'reserved opcode 11 with FIN = 0',
    steps: [step.send(frame.raw(11, PAYLOAD, { fin: false }))],
    expect: failsWith(1002),
  },
];

export const section4: SessionCase[] = [...group(1, [3, 4, 5, 6, 7]), ...group(2, [11, 12, 13, 14, 15]), ...extras];
