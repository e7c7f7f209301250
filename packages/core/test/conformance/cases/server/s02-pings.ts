/** Section 2, pings and pongs. */
import { closesNormally, failsWith, frame, got, step, type SessionCase } from '../../case.js';
import { fe } from '../payloads.js';

const c = (id: string, title: string, steps: SessionCase['steps'], expect: SessionCase['expect']): SessionCase => ({
  kind: 'session',
  id,
  title,
  steps,
  expect,
});

const binaryPayload = Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]);
const tenPings = Array.from({ length: 10 }, (_, i) => `payload-${i}`);

export const section2: SessionCase[] = [
  c('2.1', 'ping without payload', [step.send(frame.ping())], closesNormally(got.pong())),
  c('2.2', 'ping with a small text payload', [step.send(frame.ping('Hello, world!'))], closesNormally(got.pong('Hello, world!'))),
  c('2.3', 'ping with a small binary (non UTF-8) payload', [step.send(frame.ping(binaryPayload))], closesNormally(got.pong(binaryPayload))),
  c('2.4', 'ping with a binary payload of 125 octets', [step.send(frame.ping(fe(125)))], closesNormally(got.pong(fe(125)))),
  c('2.5', 'ping with a binary payload of 126 octets', [step.send(frame.ping(fe(126)))], failsWith(1002)),
  c('2.6', 'ping with 125 octets, sent in octet-wise chops', [step.sendChopped(1, frame.ping(fe(125)))], closesNormally(got.pong(fe(125)))),
  c('2.7', 'unsolicited pong without payload', [step.send(frame.pong())], closesNormally()),
  c('2.8', 'unsolicited pong with payload', [step.send(frame.pong('unsolicited pong payload'))], closesNormally()),
  c(
    '2.9',
    'unsolicited pong with payload, then ping with payload',
    [step.send(frame.pong('unsolicited pong payload'), frame.ping('ping payload'))],
    closesNormally(got.pong('ping payload')),
  ),
  c(
    '2.10',
    '10 pings with payload',
    [step.send(...tenPings.map((p) => frame.ping(p)))],
    closesNormally(...tenPings.map((p) => got.pong(p))),
  ),
  c(
    '2.11',
    '10 pings with payload, sent in octet-wise chops',
    [step.sendChopped(1, ...tenPings.map((p) => frame.ping(p)))],
    closesNormally(...tenPings.map((p) => got.pong(p))),
  ),
];
