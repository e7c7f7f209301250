/** Section 5, fragmentation. */
import { closesNormally, failsWith, frame, got, step, type Expectation, type SessionCase, type Step } from '../../case.js';
import type { FrameSpec } from '../../wire.js';
import { allBytes, mixedText, pieces } from '../payloads.js';

const c = (id: string, title: string, steps: Step[], expect: Expectation): SessionCase => ({ kind: 'session', id, title, steps, expect });

/** The same frames sent in one chop, frame-wise, and octet-wise: three consecutive cases. */
function threeWays(first: number, title: string, frames: FrameSpec[], expect: Expectation): SessionCase[] {
  return [
    c(`5.${first}`, `${title}, sent in one chop`, [step.send(...frames)], expect),
    c(`5.${first + 1}`, `${title}, sent in frame-wise chops`, [step.sendSync(...frames)], expect),
    c(`5.${first + 2}`, `${title}, sent in octet-wise chops`, [step.sendChopped(1, ...frames)], expect),
  ];
}

const two = [frame.text('fragment1', { fin: false }), frame.cont('fragment2')];
const twoWithPing = [frame.text('fragment1', { fin: false }), frame.ping('ping payload'), frame.cont('fragment2')];
const nothingToContinue = (fin: boolean) => [frame.cont('non-continuation payload', { fin }), frame.text('Hello, world!')];

/** 5.19/5.20: the first ping must be answered while the message is still incomplete. */
function pingsInside(id: string, sync: boolean): SessionCase {
  const send = sync ? step.sendSync : step.send;
  return c(
    id,
    `text message in 5 fragments with 2 pings in between, the first answered before the rest is sent${sync ? ' (frame-wise chops)' : ''}`,
    [
      send(frame.text('fragment1', { fin: false }), frame.cont('fragment2', { fin: false }), frame.ping('pongme 1!')),
      step.awaitReceived(1),
      step.mark('rest'),
      send(
        frame.cont('fragment3', { fin: false }),
        frame.cont('fragment4', { fin: false }),
        frame.ping('pongme 2!'),
        frame.cont('fragment5'),
      ),
    ],
    {
      ...closesNormally(got.pong('pongme 1!'), got.pong('pongme 2!'), got.text('fragment1fragment2fragment3fragment4fragment5')),
      receivedBefore: { mark: 'rest', count: 1 },
    },
  );
}

const autobahn: SessionCase[] = [
  c(
    '5.1',
    'ping fragmented into 2 fragments',
    [step.send(frame.ping('fragment1', { fin: false }), frame.cont('fragment2'))],
    failsWith(1002),
  ),
  c(
    '5.2',
    'pong fragmented into 2 fragments',
    [step.send(frame.pong('fragment1', { fin: false }), frame.cont('fragment2'))],
    failsWith(1002),
  ),
  ...threeWays(3, 'text message in 2 fragments', two, closesNormally(got.text('fragment1fragment2'))),
  ...threeWays(
    6,
    'text message in 2 fragments with a ping in between',
    twoWithPing,
    closesNormally(got.pong('ping payload'), got.text('fragment1fragment2')),
  ),
  ...threeWays(9, 'continuation with FIN = true and nothing to continue, then a text message', nothingToContinue(true), failsWith(1002)),
  ...threeWays(12, 'continuation with FIN = false and nothing to continue, then a text message', nothingToContinue(false), failsWith(1002)),
  c(
    '5.15',
    'text message in 2 fragments, then a continuation with nothing to continue, then a text message',
    [
      step.send(
        frame.text('fragment1', { fin: false }),
        frame.cont('fragment2'),
        frame.cont('fragment3', { fin: false }),
        frame.text('fragment4'),
      ),
    ],
    failsWith(1002, got.text('fragment1fragment2')),
  ),
  c(
    '5.16',
    '2x: continuation with FIN = false and nothing to continue, then a text message in 2 fragments',
    [
      step.send(
        ...[1, 2].flatMap(() => [
          frame.cont('fragment1', { fin: false }),
          frame.text('fragment2', { fin: false }),
          frame.cont('fragment3'),
        ]),
      ),
    ],
    failsWith(1002),
  ),
  c(
    '5.17',
    '2x: continuation with FIN = true and nothing to continue, then a text message in 2 fragments',
    [step.send(...[1, 2].flatMap(() => [frame.cont('fragment1'), frame.text('fragment2', { fin: false }), frame.cont('fragment3')]))],
    failsWith(1002),
  ),
  c(
    '5.18',
    'text message in 2 fragments, both with opcode text',
    [step.send(frame.text('fragment1', { fin: false }), frame.text('fragment2'))],
    failsWith(1002),
  ),
  pingsInside('5.19', false),
  pingsInside('5.20', true),
];

const oneByteFragments = (b: Buffer): FrameSpec[] =>
  pieces(b, 1).map((p, i, all) => (i === 0 ? frame.text(p, { fin: all.length === 1 }) : frame.cont(p, { fin: i === all.length - 1 })));

const bin = allBytes(3000);
const binThirds = pieces(bin, 1000);

const extras: SessionCase[] = [
  c(
    '5.x.1',
    'text message in 1-byte fragments cutting multi-byte code points',
    [step.send(...oneByteFragments(mixedText(120)))],
    closesNormally(got.text(mixedText(120))),
  ),
  c(
    '5.x.2',
    'binary message in 3 fragments with a ping and an unsolicited pong between each',
    [
      step.send(
        frame.binary(binThirds[0]!, { fin: false }),
        frame.ping('p1'),
        frame.pong('unsolicited'),
        frame.cont(binThirds[1]!, { fin: false }),
        frame.ping('p2'),
        frame.cont(binThirds[2]!),
      ),
    ],
    closesNormally(got.pong('p1'), got.pong('p2'), got.binary(bin)),
  ),
  c(
    '5.x.3',
    'fragmented message whose last fragment is empty',
    [step.send(frame.binary('abc', { fin: false }), frame.cont(Buffer.alloc(0)))],
    closesNormally(got.binary('abc')),
  ),
  c(
    '5.x.4',
    'two fragmented messages and a whole one back to back in one packet',
    [step.send(frame.text('a', { fin: false }), frame.cont('b'), frame.binary('c', { fin: false }), frame.cont('d'), frame.text('e'))],
    closesNormally(got.text('ab'), got.binary('cd'), got.text('e')),
  ),
  c(
    '5.x.5',
    'binary data frame inside a fragmented text message',
    [step.send(frame.text('fragment1', { fin: false }), frame.binary('fragment2'))],
    failsWith(1002),
  ),
  c('5.x.6', 'fragmented close frame', [step.send(frame.close(1000, '', { fin: false }), frame.cont('x'))], {
    received: [],
    closedBy: 'us',
    closeCode: 1002,
  }),
];

export const section5: SessionCase[] = [...autobahn, ...extras];
