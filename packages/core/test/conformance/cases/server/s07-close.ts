/**
 * Section 7, the close handshake. Codes accepted from peers are 1000–1003, 1007–1011 and
 * 3000–4999 (wsup's deliberate, Autobahn-strict list); every other code is answered with 1002.
 */
import { closesNormally, frame, got, step, type Expectation, type SessionCase, type Step } from '../../case.js';
import { stars } from '../payloads.js';

const c = (id: string, title: string, steps: Step[], expect: Expectation): SessionCase => ({ kind: 'session', id, title, steps, expect });

/** We close first (the script does), and the implementation answers with `code`. */
const answers = (code: number | null, ...received: Expectation['received']): Expectation => ({ received, closedBy: 'us', closeCode: code });

const HELLO = 'Hello World!';
const INVALID_REASON = Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex');
const big = Buffer.from('BAsd7&jh23'.repeat(26215), 'latin1').subarray(0, 256 * 1024);

const autobahn: SessionCase[] = [
  c('7.1.1', 'text message followed by a close frame', [step.send(frame.text(HELLO), frame.close(1000))], answers(1000, got.text(HELLO))),
  c('7.1.2', 'two close frames', [step.send(frame.close(1000), frame.close(1000))], answers(1000)),
  c('7.1.3', 'ping after the close frame', [step.send(frame.close(1000), frame.ping(HELLO))], answers(1000)),
  c('7.1.4', 'text message after the close frame', [step.send(frame.close(1000), frame.text(HELLO))], answers(1000)),
  c(
    '7.1.5',
    'first fragment, close frame, then the last fragment',
    [step.send(frame.text('fragment1', { fin: false }), frame.close(1000), frame.cont('fragment2'))],
    answers(1000),
  ),
  // Autobahn calls this one informational; wsup documents that messages received before a close
  // frame are delivered and answered before its close reply, so both echoes are required here.
  c(
    '7.1.6',
    '256 KiB message, small message, close frame, then a ping, back to back',
    [step.send(frame.text(big), frame.text(HELLO), frame.close(1000), frame.ping())],
    answers(1000, got.text(big), got.text(HELLO)),
  ),
  // RFC 6455 §5.5.1: the reply echoes the status code received, here none.
  c('7.3.1', 'close frame with payload length 0', [step.send(frame.close())], answers(null)),
  c('7.3.2', 'close frame with payload length 1', [step.send(frame.raw(8, Buffer.from([0x03])))], answers(1002)),
  c('7.3.3', 'close frame with payload length 2 (code only)', [step.send(frame.close(1000))], answers(1000)),
  c('7.3.4', 'close frame with code and reason', [step.send(frame.close(1000, HELLO))], answers(1000)),
  c('7.3.5', 'close frame with a reason of the maximum 123 bytes', [step.send(frame.close(1000, stars(123)))], answers(1000)),
  c('7.3.6', 'close frame with a reason of 124 bytes (126-byte control frame)', [step.send(frame.close(1000, stars(124)))], answers(1002)),
  c('7.5.1', 'close frame whose reason is not valid UTF-8', [step.send(frame.close(1000, INVALID_REASON))], answers(1007)),
  ...[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].map((code, i) =>
    c(`7.7.${i + 1}`, `close with valid code ${code}: echoed`, [step.send(frame.close(code))], answers(code)),
  ),
  ...[0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999].map((code, i) =>
    c(`7.9.${i + 1}`, `close with invalid code ${code}: 1002`, [step.send(frame.close(code))], answers(1002)),
  ),
  // Autobahn leaves these to the implementation; outside 1000–4999 nothing is defined: 1002.
  c('7.13.1', 'close with code 5000: 1002', [step.send(frame.close(5000))], answers(1002)),
  c('7.13.2', 'close with code 65535: 1002', [step.send(frame.close(65535))], answers(1002)),
];

const extras: SessionCase[] = [
  // Registered by IANA after RFC 6455; wsup deliberately treats them as invalid on the wire.
  ...[1012, 1013, 1014, 1015].map((code, i) =>
    c(`7.x.${i + 1}`, `close with code ${code}: 1002 (deliberate)`, [step.send(frame.close(code))], answers(1002)),
  ),
  c(
    '7.x.5',
    'close reason of 123 bytes of 2-byte characters and one ASCII',
    [step.send(frame.close(4000, `${'é'.repeat(61)}a`))],
    answers(4000),
  ),
  c(
    '7.x.6',
    'close reason ending inside a code point',
    [step.send(frame.close(1000, Buffer.concat([Buffer.from('bye '), Buffer.from([0xe2, 0x82])])))],
    answers(1007),
  ),
  c('7.x.7', 'close frame in octet-wise chops', [step.sendChopped(1, frame.close(3001, 'chopped'))], answers(3001)),
  c(
    '7.x.8',
    'close frame with a reason and a ping and text right behind it',
    [step.send(frame.close(4999, 'last'), frame.ping('x'), frame.text('y'))],
    answers(4999),
  ),
  c('7.x.9', 'unmasked close frame', [step.send(frame.close(1000, '', { mask: false }))], answers(1002)),
  c('7.x.10', 'unmasked text frame', [step.send(frame.text(HELLO, { mask: false }))], { received: [], closedBy: 'them', closeCode: 1002 }),
  c('7.x.11', 'a message, then we close after its echo', [step.send(frame.text(HELLO))], closesNormally(got.text(HELLO))),
];

export const section7: SessionCase[] = [...autobahn, ...extras];
