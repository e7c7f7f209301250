/** Section 3, reserved bits: any RSV bit without a negotiated extension fails with 1002. */
import { failsWith, frame, got, step, type SessionCase } from '../../case.js';

const HELLO = 'Hello, world!';
const c = (id: string, title: string, steps: SessionCase['steps'], expect: SessionCase['expect']): SessionCase => ({
  kind: 'session',
  id,
  title,
  steps,
  expect,
});

const thenReserved = (rsv: number) => [frame.text(HELLO), frame.text(HELLO, { rsv }), frame.ping()];

export const section3: SessionCase[] = [
  c('3.1', 'small text message with RSV = 1', [step.send(frame.text(HELLO, { rsv: 1 }))], failsWith(1002)),
  // The echo must not be lost because the bad frame behind it arrived in the same read.
  c(
    '3.2',
    'small text message, then again with RSV = 2, then ping (one packet)',
    [step.send(...thenReserved(2))],
    failsWith(1002, got.text(HELLO)),
  ),
  c(
    '3.3',
    'small text message, then again with RSV = 3, then ping (frame-wise chops)',
    [step.sendSync(...thenReserved(3))],
    failsWith(1002, got.text(HELLO)),
  ),
  c(
    '3.4',
    'small text message, then again with RSV = 4, then ping (octet-wise chops)',
    [step.sendChopped(1, ...thenReserved(4))],
    failsWith(1002, got.text(HELLO)),
  ),
  c(
    '3.5',
    'small binary message with RSV = 5',
    [step.send(frame.binary(Buffer.from([0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0xff]), { rsv: 5 }))],
    failsWith(1002),
  ),
  c('3.6', 'ping with RSV = 6', [step.send(frame.ping(HELLO, { rsv: 6 }))], failsWith(1002)),
  // Our (malformed) close frame goes first, so wsup's 1002 comes as the second close frame.
  c('3.7', 'close with RSV = 7', [step.send(frame.close(1000, '', { rsv: 7 }))], { received: [], closedBy: 'us', closeCode: 1002 }),
  // wsup's additions: reserved bits on the frames Autobahn does not try.
  c(
    '3.x.1',
    'continuation frame with RSV = 4',
    [step.send(frame.text('fragment1', { fin: false }), frame.cont('fragment2', { rsv: 4 }))],
    failsWith(1002),
  ),
  c('3.x.2', 'pong with RSV = 4', [step.send(frame.pong('x', { rsv: 4 }))], failsWith(1002)),
  c(
    '3.x.3',
    'ping with RSV = 1 between two fragments',
    [step.send(frame.text('a', { fin: false }), frame.ping('x', { rsv: 1 }), frame.cont('b'))],
    failsWith(1002),
  ),
];
