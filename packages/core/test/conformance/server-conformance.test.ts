/**
 * The server conformance suite: Autobahn's sections 1–10 (and wsup's additions) against a wsup
 * echo server, driven by the suite's own raw TCP client. Cases wsup is known to fail run as
 * `it.fails`, so the suite stays green today and turns red the day one of them is fixed.
 *
 * WSUP_CONFORMANCE=full also runs the cases marked `long` (more of section 9's big messages).
 * WSUP_CONFORMANCE_CASES=<regexp> runs only the cases whose id matches.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceCase } from './case.js';
import { serverCases } from './cases/server/index.js';
import { knownServerFailures } from './cases/server/known-failures.js';
import { openClientPeer } from './client-peer.js';
import { startEchoSubject, type EchoSubject } from './echo-subject.js';
import { runHandshake, runSession, type Outcome } from './run.js';
import { Tally, verdictOf } from './tally.js';

const full = process.env.WSUP_CONFORMANCE === 'full';
const only = process.env.WSUP_CONFORMANCE_CASES ? new RegExp(process.env.WSUP_CONFORMANCE_CASES) : undefined;

const cases: ConformanceCase[] = serverCases
  .filter((c) => full || !c.long)
  .filter((c) => !only || only.test(c.id))
  .map((c) => (knownServerFailures[c.id] ? { ...withGetters(c), knownFailure: knownServerFailures[c.id] } : c));

/** Copies a case keeping lazily built steps lazy (spreading would evaluate the getters now). */
function withGetters<T extends object>(c: T): T {
  return Object.defineProperties({}, Object.getOwnPropertyDescriptors(c)) as T;
}

let subject: EchoSubject;
const tally = new Tally();

beforeAll(async () => {
  subject = await startEchoSubject();
});

afterAll(async () => {
  await subject?.close();
  // One line for CI logs: regressions and fixed known failures show without reading the report.
  console.log(tally.line(`server (wsup echo${full ? ', full' : ''})`));
});

function explain(c: ConformanceCase, outcome: Outcome): string {
  const head = `${c.id} ${c.title}`;
  const known = c.knownFailure ? `\n  known failure: ${c.knownFailure.diagnosis}` : '';
  return `${head}:\n  - ${outcome.problems.join('\n  - ')}${known}`;
}

async function run(c: ConformanceCase): Promise<void> {
  const outcome =
    c.kind === 'handshake'
      ? await runHandshake(c, subject.port, randomBytes(16).toString('base64'))
      : await runSession(c, { open: (sc) => openClientPeer(subject.port, { ...sc.offer, path: `/${sc.subject ?? ''}` }) });
  tally.record(c, verdictOf(c, outcome.problems));
  expect(outcome.problems, explain(c, outcome)).toEqual([]);
}

describe('server conformance (Autobahn 1–10, handshake rejections)', () => {
  for (const c of cases) {
    const test = c.knownFailure ? it.fails : it;
    test(`${c.id} ${c.title}`, () => run(c), c.timeout ?? 20_000);
  }
});
