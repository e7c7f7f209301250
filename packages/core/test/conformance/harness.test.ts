/**
 * The conformance harness itself: it must fail an implementation that misbehaves in each way the
 * suite claims to check. Judged on synthetic logs, and live against scripted fake servers (no
 * wsup involved) that are lenient, slow to fail, wrong about close codes, or never hang up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closesNormally, failsWith, frame, got, step, type SessionCase } from './case.js';
import { serverCases } from './cases/server/index.js';
import { openClientPeer } from './client-peer.js';
import type { PeerEvent, ScriptedPeer } from './peer.js';
import { judge, runSession, WAIT } from './run.js';
import { startScriptedServer, type ScriptedServer } from './server-peer.js';
import { closeBody, OP } from './wire.js';

const session = (expect: SessionCase['expect']): SessionCase => ({ kind: 'session', id: 't', title: 't', steps: [], expect });
const msg = (data: string): PeerEvent => ({ type: 'message', binary: false, data: Buffer.from(data) });
const close = (code: number | null): PeerEvent => ({ type: 'close', code, reason: Buffer.alloc(0) });
const sent = (code: number | null): PeerEvent => ({ type: 'sent-close', code });
const end: PeerEvent[] = [{ type: 'tcp-end' }, { type: 'tcp-closed', reset: false }];

describe('judge', () => {
  it('passes a log that matches', () => {
    expect(judge(session(closesNormally(got.text('a'))), [msg('a'), sent(1000), close(1000), ...end])).toEqual([]);
    expect(judge(session(failsWith(1002)), [close(1002), sent(1002), ...end])).toEqual([]);
  });

  const failing: [string, SessionCase['expect'], PeerEvent[], RegExp][] = [
    ['a missing echo', closesNormally(got.text('a')), [sent(1000), close(1000), ...end], /^received \[\], expected \[text\(1\)/],
    ['a wrong payload', closesNormally(got.text('a')), [msg('b'), sent(1000), close(1000), ...end], /^received/],
    ['binary instead of text', closesNormally(got.text('a')), [{ type: 'message', binary: true, data: Buffer.from('a') }, sent(1000), close(1000), ...end], /^received/],
    ['an extra pong', closesNormally(), [{ type: 'pong', data: Buffer.alloc(0) }, sent(1000), close(1000), ...end], /^received/],
    ['a wrong close code', failsWith(1002), [close(1007), sent(1007), ...end], /close code 1007, expected 1002/],
    ['an empty close frame where a code is due', failsWith(1002), [close(null), sent(null), ...end], /close code \(none\), expected 1002/],
    ['no close frame', failsWith(1002), [...end], /no close frame/],
    ['a failure that only answers our close', failsWith(1002), [sent(1000), close(1002), ...end], /should have failed the connection first/],
    ['a close before ours where none was due', closesNormally(), [close(1000), sent(1000), ...end], /should have waited for our close/],
    ['a protocol violation', closesNormally(), [{ type: 'violation', what: 'masked frame from a server' }, sent(1000), close(1000), ...end], /broke the protocol: masked/],
    ['a TCP connection left open', closesNormally(), [sent(1000), close(1000), { type: 'dropped-by-us', why: 'x' }], /did not close the TCP connection/],
    [
      'a close after the rest was sent (not fail-fast)',
      { ...failsWith(1007), closeAfter: 'part2', closeBefore: 'part3' },
      [{ type: 'mark', name: 'part2' }, { type: 'mark', name: 'part3' }, close(1007), sent(1007), ...end],
      /not failed fast/,
    ],
    [
      'a close before the offending part was sent (too eager)',
      { ...failsWith(1007), closeAfter: 'part2', closeBefore: 'part3' },
      [close(1007), sent(1007), { type: 'mark', name: 'part2' }, { type: 'mark', name: 'part3' }, ...end],
      /closed before "part2"/,
    ],
    [
      'an answer that came only after the mark',
      { ...closesNormally(got.pong('x')), receivedBefore: { mark: 'rest', count: 1 } },
      [{ type: 'mark', name: 'rest' }, { type: 'pong', data: Buffer.from('x') }, sent(1000), close(1000), ...end],
      /only 0 of the first 1 answers arrived before "rest"/,
    ],
  ];
  for (const [name, ex, log, problem] of failing) {
    it(`fails ${name}`, () => {
      const problems = judge(session(ex), log);
      expect(problems.some((p) => problem.test(p)), problems.join('\n')).toBe(true);
    });
  }
});

interface FakeBehaviour {
  /** Fail invalid text with 1007 (only once the whole message is in: not fail-fast). */
  checkUtf8AtEnd?: boolean;
  /** Reply to every close frame with this code instead of echoing it. */
  replyCode?: number;
  /** Keep the TCP connection open after the close handshake. */
  keepTcpOpen?: boolean;
  /** Echo with the mask bit and RSV1 set (both forbidden for a server). */
  maskAndRsv?: boolean;
}

/** A lenient echo server, built on the suite's own scripted peer: it validates nothing. */
function fake(b: FakeBehaviour): Promise<ScriptedServer> {
  return startScriptedServer((peer: ScriptedPeer) => {
    peer.autoCloseReply = false;
    peer.onEvent = (e) => {
      if (peer.closeSent) return;
      if (e.type === 'message') {
        void peer.sendFrames([{ opcode: e.binary ? OP.binary : OP.text, payload: e.data, ...(b.maskAndRsv ? { mask: true, rsv: 4 } : {}) }]);
      } else if (e.type === 'ping') {
        void peer.sendFrames([frame.pong(e.data)]);
      } else if (e.type === 'violation' && b.checkUtf8AtEnd && /not valid UTF-8/.test(e.what)) {
        void peer.sendFrames([{ opcode: OP.close, payload: closeBody(1007) }]);
      } else if (e.type === 'close') {
        const code = b.replyCode ?? e.code;
        void peer.sendFrames([{ opcode: OP.close, payload: code === null ? undefined : closeBody(code) }]).then(() => {
          if (!b.keepTcpOpen) peer.socket.end();
        });
      }
    };
  });
}

describe('the live harness fails misbehaving servers', () => {
  let server: ScriptedServer | undefined;
  const saved = { ...WAIT };
  afterEach(async () => {
    Object.assign(WAIT, saved);
    await server?.close();
  });

  async function problemsOf(b: FakeBehaviour, id: string): Promise<string[]> {
    // Waits that a correct implementation never runs into can be short against a fake.
    Object.assign(WAIT, { closeFrame: 300, tcpEnd: 300, received: 300 });
    server = await fake(b);
    const c = serverCases.find((x) => x.id === id);
    if (c?.kind !== 'session') throw new Error(`no session case ${id}`);
    const port = server.port;
    return (await runSession(c, { open: () => openClientPeer(port) })).problems;
  }

  it('a lenient echo server passes an echo case', async () => {
    expect(await problemsOf({}, '1.1.2')).toEqual([]);
  });

  it('a server that accepts RSV bits fails 3.1', async () => {
    const problems = await problemsOf({}, '3.1');
    expect(problems.join('\n')).toMatch(/received \[text\(13\)/);
    expect(problems.join('\n')).toMatch(/close code 1000, expected 1002/);
  });

  it('a server that checks UTF-8 only at the end of the message fails 6.4.1 as not fail-fast', async () => {
    expect((await problemsOf({ checkUtf8AtEnd: true }, '6.4.1')).join('\n')).toMatch(/not failed fast/);
  });

  it('a server that answers every close with 1000 fails 7.7.2', async () => {
    expect(await problemsOf({ replyCode: 1000 }, '7.7.2')).toEqual(['close code 1000, expected 1001']);
  });

  it('a server that never hangs up fails', async () => {
    expect((await problemsOf({ keepTcpOpen: true }, '1.1.1')).join('\n')).toMatch(/did not close the TCP connection/);
  });

  it('a server that masks its frames and sets RSV1 fails', async () => {
    const problems = (await problemsOf({ maskAndRsv: true }, '1.1.2')).join('\n');
    expect(problems).toMatch(/masked frame from a server/);
    expect(problems).toMatch(/RSV bits 100 set/);
  });

  it('the scripted steps reach the server as written: chops, marks and pauses', async () => {
    Object.assign(WAIT, { closeFrame: 300, tcpEnd: 300, received: 300 });
    let serverPeer: ScriptedPeer | undefined;
    server = await startScriptedServer((p) => (serverPeer = p));
    const opened = await openClientPeer(server.port);
    if (!opened.ok) throw new Error(opened.problem);
    const c: SessionCase = {
      kind: 'session',
      id: 't',
      title: 't',
      steps: [step.sendChopped(1, frame.text('chopped')), step.pause(5), step.sendSync(frame.binary('a'), frame.ping('b'))],
      expect: closesNormally(),
    };
    await runSession(c, { open: async () => opened });
    const got = serverPeer!.log.filter((e) => e.type === 'message' || e.type === 'ping' || e.type === 'sent-close' || e.type === 'close');
    expect(got.map((e) => [e.type, 'data' in e ? e.data.toString() : 'code' in e ? e.code : ''])).toEqual([
      ['message', 'chopped'],
      ['message', 'a'],
      ['ping', 'b'],
      ['close', 1000],
      ['sent-close', 1000],
    ]);
  });
});
