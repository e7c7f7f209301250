/**
 * Client suite, the close handshake from either side (RFC 6455 §7.1): the client echoes the
 * server's close frame and then waits for the server to end TCP; it closes with its own code and
 * waits for the server's answer and FIN; and when the server leaves it waiting, its closeTimeout
 * ends the connection. What `ws.closed` reports is pinned in each case.
 */
import { frame, step, type Expectation, type SessionCase, type Step } from '../../case.js';

let n = 1;
const c = (title: string, subject: string, steps: Step[], expect: Expectation): SessionCase => ({
  kind: 'session',
  id: `7.c.${n++}`,
  title,
  subject,
  steps,
  expect,
});

const REASON_123 = `${'é'.repeat(61)}a`;

export const clientSection7: SessionCase[] = [
  c(
    'the server closes: the client echoes, then waits for the server to end TCP',
    '',
    [step.send(frame.close(1000, 'bye')), step.awaitClose(), step.pause(300), step.mark('server ends TCP')],
    { received: [], closedBy: 'us', closeCode: 1000, reported: { code: 1000, reason: 'bye', wasClean: true, error: null } },
  ),
  c('the server closes with 4999 and a reason of 123 bytes: reported as sent', '', [step.send(frame.close(4999, REASON_123))], {
    received: [],
    closedBy: 'us',
    closeCode: 4999,
    reported: { code: 4999, reason: REASON_123, wasClean: true, error: null },
  }),
  c('the server closes with an empty close frame: reported as 1005', '', [step.send(frame.close())], {
    received: [],
    closedBy: 'us',
    closeCode: null,
    reported: { code: 1005, reason: '', wasClean: true, error: null },
  }),
  c('the server closes and never ends TCP: the client does, after its closeTimeout', 'short-close', [step.send(frame.close(1000))], {
    received: [],
    closedBy: 'us',
    closeCode: 1000,
    holdTcp: true,
    reported: { code: 1000, wasClean: true, error: null },
  }),
  c(
    'the client closes: the server echoes and ends TCP; the client does not end it first',
    'closes',
    [step.send(frame.text('close now')), step.awaitClose(), step.pause(300), step.mark('server ends TCP')],
    { received: [], closedBy: 'them', closeCode: 4000, closeIsFailure: false, reported: { code: 4000, wasClean: true, error: null } },
  ),
  c(
    'the client closes and the server answers with another code: the client reports the code it received',
    'closes',
    [step.ignoreClose(), step.send(frame.text('close now')), step.awaitClose(), step.send(frame.close(1001, 'going away'))],
    {
      received: [],
      closedBy: 'them',
      closeCode: 4000,
      closeIsFailure: false,
      reported: { code: 1001, reason: 'going away', wasClean: true, error: null },
    },
  ),
  c(
    'the client closes and the server never answers: the client ends the connection after its closeTimeout',
    'closes-short',
    [step.ignoreClose(), step.send(frame.text('close now')), step.awaitClose()],
    {
      received: [],
      closedBy: 'them',
      closeCode: 4000,
      closeIsFailure: false,
      holdTcp: true,
      reported: { code: 1006, wasClean: false, error: null },
    },
  ),
  c(
    'the client closes while the server is sending a fragmented message, which the server finishes before answering',
    'closes',
    [
      step.ignoreClose(),
      step.send(frame.text('close now'), frame.binary('part1', { fin: false })),
      step.awaitClose(),
      step.send(frame.cont('part2'), frame.close(4000)),
    ],
    { received: [], closedBy: 'them', closeCode: 4000, closeIsFailure: false, reported: { code: 4000, wasClean: true, error: null } },
  ),
];
