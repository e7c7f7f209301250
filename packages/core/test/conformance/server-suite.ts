/**
 * The server conformance suite: Autobahn's sections 1–10, 12 and 13 (and wsup's additions)
 * against a wsup echo server, driven by the suite's own raw TCP client, or over HTTP/2 by its own
 * extended CONNECT streams on one session. Cases wsup is known to fail run as `it.fails`, so the
 * suite stays green today and turns red the day one of them is fixed.
 *
 * Over HTTP/2 every session case runs; the HTTP/1.1 handshake rejections cannot apply (they send
 * malformed Upgrade, Connection, key and version lines that HTTP/2 has no place for) and are
 * replaced by the extended CONNECT refusals in test/server/.
 *
 * WSUP_CONFORMANCE=full also runs the cases marked `long` (more of section 9's big messages).
 * WSUP_CONFORMANCE_CASES=<regexp> runs only the cases whose id matches.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceCase, SessionCase } from './case.js';
import { serverCases } from './cases/server/index.js';
import { knownServerFailures } from './cases/server/known-failures.js';
import { serverSubjects } from './cases/server/subjects.js';
import { openClientPeer } from './client-peer.js';
import { answerProblem } from './deflate-codec.js';
import { startEchoSubject, type EchoSubject } from './echo-subject.js';
import { Http2ClientPeers } from './http2-peers.js';
import { runHandshake, runSession, type Outcome } from './run.js';
import { Tally, verdictOf } from './tally.js';
import type { Transport } from './transport.js';

const full = process.env.WSUP_CONFORMANCE === 'full';
const only = process.env.WSUP_CONFORMANCE_CASES ? new RegExp(process.env.WSUP_CONFORMANCE_CASES) : undefined;

function casesFor(transport: Transport): ConformanceCase[] {
  return serverCases
    .filter((c) => full || !c.long)
    .filter((c) => !only || only.test(c.id))
    .filter((c) => transport === 'http/1.1' || c.kind !== 'handshake')
    .map((c) => (knownServerFailures[c.id] ? { ...withGetters(c), knownFailure: knownServerFailures[c.id] } : c));
}

/** Copies a case keeping lazily built steps lazy (spreading would evaluate the getters now). */
function withGetters<T extends object>(c: T): T {
  return Object.defineProperties({}, Object.getOwnPropertyDescriptors(c)) as T;
}

/** Declares the suite against wsup's server over `transport`. */
export function describeServerConformance(transport: Transport): void {
  let subject: EchoSubject;
  let h2: Http2ClientPeers | undefined;
  const tally = new Tally();
  const cases = casesFor(transport);

  beforeAll(async () => {
    subject = await startEchoSubject(serverSubjects, transport);
    if (transport === 'h2') h2 = await Http2ClientPeers.connect(subject.port);
  });

  afterAll(async () => {
    h2?.close();
    await subject?.close();
    // One line for CI logs: regressions and fixed known failures show without reading the report.
    console.log(tally.line(`server (wsup echo${transport === 'h2' ? ' over HTTP/2, one session' : ''}${full ? ', full' : ''})`));
  });

  function explain(c: ConformanceCase, outcome: Outcome): string {
    const head = `${c.id} ${c.title}`;
    const known = c.knownFailure ? `\n  known failure: ${c.knownFailure.diagnosis}` : '';
    return `${head}:\n  - ${outcome.problems.join('\n  - ')}${known}`;
  }

  /** Opens a session as the case says, and checks wsup's extensions answer when the case pins it. */
  async function open(c: SessionCase) {
    const spec = { ...c.offer, path: `/${c.subject ?? ''}` };
    const opened = h2 ? await h2.open(spec) : await openClientPeer(subject.port, spec);
    if (!opened.ok || c.answer === undefined) return opened;
    const problem = answerProblem(c.answer, opened.head.headers['sec-websocket-extensions']);
    if (problem === undefined) return opened;
    opened.peer.socket.destroy();
    return { ok: false as const, problem: `handshake: ${problem}` };
  }

  async function run(c: ConformanceCase): Promise<void> {
    if (c.kind === 'refused-answer') throw new Error(`${c.id}: a client case in the server suite`);
    const outcome =
      c.kind === 'handshake' ? await runHandshake(c, subject.port, randomBytes(16).toString('base64')) : await runSession(c, { open });
    tally.record(c, verdictOf(c, outcome.problems));
    expect(outcome.problems, explain(c, outcome)).toEqual([]);
  }

  describe(`server conformance${transport === 'h2' ? ' over HTTP/2 (RFC 8441)' : ''} (Autobahn 1–10, 12, 13${transport === 'h2' ? '' : ', handshake rejections'})`, () => {
    for (const c of cases) {
      const test = c.knownFailure ? it.fails : it;
      test(`${c.id} ${c.title}`, () => run(c), c.timeout ?? 20_000);
    }
  });
}
