/**
 * Client suite, framing: a server must not mask its frames (RFC 6455 §5.1); the client fails the
 * connection with 1002 on the first masked frame, whatever it is, as soon as its header shows it.
 * (The client's own frames are all masked: the scripted server checks every one of them.)
 */
import { failsWith, frame, got, step, type Expectation, type SessionCase, type Step } from '../../case.js';

const HELLO = 'Hello, world!';
const MASKED = { code: 1002, wasClean: false, error: 'ERR_MASKED_FRAME' };

let n = 1;
const c = (title: string, steps: Step[], expect: Expectation): SessionCase => ({
  kind: 'session',
  id: `1.c.${n++}`,
  title,
  steps,
  expect: { ...expect, reported: MASKED },
});

const KEY = Buffer.from([0x11, 0x22, 0x33, 0x44]);

export const clientSection1: SessionCase[] = [
  c('masked text message', [step.send(frame.text(HELLO, { mask: true }))], failsWith(1002)),
  c('masked binary message', [step.send(frame.binary(Buffer.from([0, 1, 0xfe, 0xff]), { mask: true }))], failsWith(1002)),
  c('masked empty text message', [step.send(frame.text('', { mask: true }))], failsWith(1002)),
  c(
    'masked text message whose key is all zeros (the mask bit is what counts)',
    [step.send(frame.text(HELLO, { mask: Buffer.alloc(4) }))],
    failsWith(1002),
  ),
  c('masked ping: no pong', [step.send(frame.ping('x', { mask: true }))], failsWith(1002)),
  c('masked pong', [step.send(frame.pong('x', { mask: true }))], failsWith(1002)),
  c(
    'masked continuation of an unmasked first fragment',
    [step.send(frame.text('fragment1', { fin: false }), frame.cont('fragment2', { mask: true }))],
    failsWith(1002),
  ),
  c(
    'text message, then a masked one in the same packet: the first is echoed',
    [step.send(frame.text(HELLO), frame.text(HELLO, { mask: true }))],
    failsWith(1002, got.text(HELLO)),
  ),
  c(
    'text message, then a masked ping, in octet-wise chops',
    [step.sendChopped(1, frame.text(HELLO), frame.ping('x', { mask: true }))],
    failsWith(1002, got.text(HELLO)),
  ),
  // Our (malformed) close frame goes first, so the client's 1002 comes as the second close frame.
  c('masked close frame', [step.send(frame.close(1000, '', { mask: true }))], { received: [], closedBy: 'us', closeCode: 1002 }),
  c(
    'masked frame of 64 KiB: failed on its header, before the payload is sent',
    (() => {
      const f = [frame.binary(Buffer.alloc(65536, 7), { mask: KEY })];
      return [step.sendSlice(f, Infinity, 65536 + 4), step.awaitClose(), step.mark('payload'), step.sendSlice(f, 65536 + 4, 0)];
    })(),
    { ...failsWith(1002), closeBefore: 'payload' },
  ),
];
