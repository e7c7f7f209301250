/**
 * The client conformance suite: wsup's connect() against the suite's own scripted server, with
 * the server cases of sections 1–7, 9, 10 and 12 in the roles swapped and the client's own tables
 * (see cases/client/index.ts). Besides what the scripted server observes on the wire, each
 * session checks what the client reports in `ws.closed`. Cases wsup is known to fail run as
 * `it.fails`, so the suite stays green today and turns red the day one of them is fixed. Over
 * HTTP/2 the client opens each WebSocket as an extended CONNECT stream (its connections to one
 * origin share a session) and every case runs: the refused answers are all about extensions,
 * which HTTP/2 answers in the same header.
 *
 * WSUP_CONFORMANCE=full also runs the cases marked `long` and Autobahn's full repetitions.
 * WSUP_CONFORMANCE_CASES=<regexp> runs only the cases whose id matches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceCase, RefusedAnswerCase, Reported, SessionCase } from './case.js';
import { clientCases } from './cases/client/index.js';
import { knownClientFailures } from './cases/client/known-failures.js';
import { clientSubjects } from './cases/client/subjects.js';
import { runClientSubject, type ClientAttempt } from './client-subject.js';
import { answerProblem } from './deflate-codec.js';
import type { PeerEvent, ScriptedPeer } from './peer.js';
import { runSession, WAIT, type Outcome } from './run.js';
import { startScriptedHttp2Server } from './http2-peers.js';
import { startScriptedServer, type ScriptedRequest, type ScriptedServer } from './server-peer.js';
import { Tally, verdictOf } from './tally.js';
import type { Transport } from './transport.js';

const full = process.env.WSUP_CONFORMANCE === 'full';
const only = process.env.WSUP_CONFORMANCE_CASES ? new RegExp(process.env.WSUP_CONFORMANCE_CASES) : undefined;

const cases: ConformanceCase[] = clientCases
  .filter((c) => full || !c.long)
  .filter((c) => !only || only.test(c.id))
  .map((c) => (knownClientFailures[c.id] ? { ...withGetters(c), knownFailure: knownClientFailures[c.id] } : c));

/** Copies a case keeping lazily built steps lazy (spreading would evaluate the getters now). */
function withGetters<T extends object>(c: T): T {
  return Object.defineProperties({}, Object.getOwnPropertyDescriptors(c)) as T;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())]);
}

/** What `ws.closed` should say when the case does not pin it: read off the close frames. */
function derivedReport(c: SessionCase, log: PeerEvent[]): Reported {
  const ex = c.expect;
  if (ex.closedBy === 'them') return { code: ex.closeCode ?? 1005, wasClean: false, error: '*' };
  const ours = log.find((e): e is Extract<PeerEvent, { type: 'sent-close' }> => e.type === 'sent-close');
  const ourCode = ours?.code ?? null;
  if (ex.closeCode === ourCode) return { code: ourCode ?? 1005, wasClean: true, error: null };
  // The client answered our close frame with an error code: it failed on it.
  return { code: ex.closeCode ?? 1005, wasClean: false, error: '*' };
}

function reportProblem(
  want: Reported,
  got: { code: number; reason: string; wasClean: boolean; error?: { code?: string } | undefined },
): string | undefined {
  const errorCode = got.error?.code ?? null;
  const errorOk = want.error === '*' ? errorCode !== null : errorCode === want.error;
  const ok =
    got.code === want.code && got.wasClean === want.wasClean && errorOk && (want.reason === undefined || got.reason === want.reason);
  if (ok) return undefined;
  const show = (r: { code: number; wasClean: boolean; reason?: string }, e: string | null) =>
    `{ code: ${r.code}, wasClean: ${r.wasClean}, error: ${e ?? 'none'}${r.reason !== undefined ? `, reason: ${JSON.stringify(r.reason)}` : ''} }`;
  return `ws.closed reported ${show(got, errorCode)}, expected ${show(want, want.error === '*' ? 'any' : want.error)}`;
}

/** Declares the suite against wsup's client over `transport`. */
export function describeClientConformance(transport: Transport): void {
  /** Each connection asks for its case by path; the server answers and hands over its peer. */
  interface Pending {
    answer: string | null | undefined;
    peer: (peer: ScriptedPeer, req: ScriptedRequest) => void;
  }
  const pending = new Map<string, Pending>();
  let server: ScriptedServer;
  const tally = new Tally();

  beforeAll(async () => {
    server = await (transport === 'h2' ? startScriptedHttp2Server : startScriptedServer)(
      (peer, req) => pending.get(req.path)?.peer(peer, req),
      (req) => {
        const answer = pending.get(req.path)?.answer;
        return typeof answer === 'string' ? { extensions: answer } : {};
      },
    );
  });

  afterAll(async () => {
    await server?.close();
    console.log(tally.line(`client (wsup connect${transport === 'h2' ? ' over HTTP/2' : ''}${full ? ', full' : ''})`));
  });

  let nextPath = 0;

  /** Starts wsup's client on a fresh path of the scripted server, which answers as the case says. */
  function start(c: SessionCase | RefusedAnswerCase) {
    const path = `/${nextPath++}`;
    const subject = clientSubjects[c.subject ?? ''];
    if (!subject) throw new Error(`${c.id}: no client subject "${c.subject}"`);
    const served = new Promise<{ peer: ScriptedPeer; req: ScriptedRequest }>((resolve) => {
      pending.set(path, { answer: c.answer, peer: (peer, req) => resolve({ peer, req }) });
    });
    const options = transport === 'h2' ? { ...subject.options, http2: true } : subject.options;
    const attempt = runClientSubject(`ws://127.0.0.1:${server.port}${path}`, { ...subject, options });
    return { served, attempt, done: () => pending.delete(path) };
  }

  async function runClientSession(c: SessionCase): Promise<Outcome> {
    const { served, attempt, done } = start(c);
    let client: ClientAttempt | undefined;
    try {
      const outcome = await runSession(c, {
        role: 'server',
        open: async () => {
          const first = await Promise.race([served, attempt.then((a) => ({ early: a }))]);
          if ('early' in first && !first.early.ok) return { ok: false, problem: `connect() failed: ${String(first.early.error)}` };
          const { peer, req } = await served;
          const offered = answerProblem(c.offer?.extensions ?? null, req.headers['sec-websocket-extensions']);
          if (offered) {
            peer.socket.destroy();
            return { ok: false, problem: `the client's offer: ${offered.replace('Sec-WebSocket-Extensions: ', '')}` };
          }
          client = await attempt;
          if (!client.ok) {
            peer.socket.destroy();
            return { ok: false, problem: `connect() failed: ${String(client.error)}` };
          }
          return { ok: true, peer };
        },
      });
      if (outcome.problems.length > 0 && outcome.log.length === 0) return outcome;
      if (client?.ok) {
        const info = await withTimeout(client.closed, WAIT.tcpEnd);
        if (!info) outcome.problems.push('ws.closed did not settle after the connection ended');
        else {
          const problem = reportProblem(c.expect.reported ?? derivedReport(c, outcome.log), info);
          if (problem) outcome.problems.push(problem);
        }
      }
      return outcome;
    } finally {
      done();
      const a = client ?? (await withTimeout(attempt, 1000));
      if (a?.ok) a.ws.terminate();
    }
  }

  async function runRefusedAnswer(c: RefusedAnswerCase): Promise<Outcome> {
    const { served, attempt, done } = start(c);
    try {
      const problems: string[] = [];
      const a = await attempt;
      if (a.ok) {
        a.ws.terminate();
        return { problems: [`connect() accepted Sec-WebSocket-Extensions: ${c.answer} (extensions "${a.ws.extensions}")`], log: [] };
      }
      const code = (a.error as { code?: string }).code;
      if (code !== c.expect.error) problems.push(`connect() rejected with ${code ?? String(a.error)}, expected ${c.expect.error}`);
      // Failing the connection in the opening handshake means closing it (RFC 6455 §4.1).
      const s = await withTimeout(served, WAIT.tcpEnd);
      if (!s) problems.push('the scripted server never saw the connection');
      else if (!(await s.peer.waitFor(() => s.peer.closed || s.peer.tcpEnded, WAIT.tcpEnd))) {
        problems.push('the client did not close the connection');
        s.peer.socket.destroy();
      }
      return { problems, log: [] };
    } finally {
      done();
    }
  }

  function explain(c: ConformanceCase, outcome: Outcome): string {
    const known = c.knownFailure ? `\n  known failure: ${c.knownFailure.diagnosis}` : '';
    return `${c.id} ${c.title}:\n  - ${outcome.problems.join('\n  - ')}${known}`;
  }

  async function run(c: ConformanceCase): Promise<void> {
    if (c.kind === 'handshake') throw new Error(`${c.id}: a server case in the client suite`);
    const outcome = c.kind === 'refused-answer' ? await runRefusedAnswer(c) : await runClientSession(c);
    tally.record(c, verdictOf(c, outcome.problems));
    expect(outcome.problems, explain(c, outcome)).toEqual([]);
  }

  describe(`client conformance${transport === 'h2' ? ' over HTTP/2 (RFC 8441)' : ''} (Autobahn 1–10, 12 in the client role; masking, close, limits, deflate answers)`, () => {
    for (const c of cases) {
      const test = c.knownFailure ? it.fails : it;
      test(`${c.id} ${c.title}`, () => run(c), c.timeout ?? 20_000);
    }
  });
}
