/**
 * The conformance harness itself: it must fail an implementation that misbehaves in each way the
 * suite claims to check. Judged on synthetic logs, and live against scripted fake servers (no
 * wsup involved) that are lenient, slow to fail, wrong about close codes, or never hang up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closesNormally, failsWith, frame, got, step, type SessionCase } from './case.js';
import { clientCases } from './cases/client/index.js';
import { serverCases } from './cases/server/index.js';
import { openClientPeer } from './client-peer.js';
import { agree, MessageDeflater, MessageInflater, parseExtensions } from './deflate-codec.js';
import type { PeerEvent, ScriptedPeer } from './peer.js';
import { judge, runSession, WAIT } from './run.js';
import { startScriptedServer, type Answer, type ScriptedServer } from './server-peer.js';
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
    [
      'binary instead of text',
      closesNormally(got.text('a')),
      [{ type: 'message', binary: true, data: Buffer.from('a') }, sent(1000), close(1000), ...end],
      /^received/,
    ],
    ['an extra pong', closesNormally(), [{ type: 'pong', data: Buffer.alloc(0) }, sent(1000), close(1000), ...end], /^received/],
    ['a wrong close code', failsWith(1002), [close(1007), sent(1007), ...end], /close code 1007, expected 1002/],
    ['an empty close frame where a code is due', failsWith(1002), [close(null), sent(null), ...end], /close code \(none\), expected 1002/],
    ['no close frame', failsWith(1002), [...end], /no close frame/],
    [
      'a failure that only answers our close',
      failsWith(1002),
      [sent(1000), close(1002), ...end],
      /should have failed the connection first/,
    ],
    ['a close before ours where none was due', closesNormally(), [close(1000), sent(1000), ...end], /should have waited for our close/],
    [
      'a protocol violation',
      closesNormally(),
      [{ type: 'violation', what: 'masked frame from a server' }, sent(1000), close(1000), ...end],
      /broke the protocol: masked/,
    ],
    [
      'a TCP connection left open',
      closesNormally(),
      [sent(1000), close(1000), { type: 'dropped-by-us', why: 'x' }],
      /did not close the TCP connection/,
    ],
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
      expect(
        problems.some((p) => problem.test(p)),
        problems.join('\n'),
      ).toBe(true);
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
        void peer.sendFrames([
          { opcode: e.binary ? OP.binary : OP.text, payload: e.data, ...(b.maskAndRsv ? { mask: true, rsv: 4 } : {}) },
        ]);
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

describe('the deflate codec', () => {
  it('inflates what it deflates, with and without context takeover, at every window size', () => {
    for (const bits of [8, 9, 12, 15]) {
      for (const nct of [false, true]) {
        const d = new MessageDeflater(bits, nct);
        const i = new MessageInflater(bits, nct);
        for (const m of ['', 'hello hello hello', 'hello hello hello', `${'x'.repeat(5000)}hello hello hello`]) {
          expect(i.inflate(d.compress(Buffer.from(m))).toString()).toBe(m);
        }
      }
    }
  });

  it('refuses a message that refers back beyond the agreed window', () => {
    // 2000 octets without repeats of their own, so the only match is the copy 2000 octets back.
    let x = 12345;
    const block = Buffer.from(Array.from({ length: 2000 }, () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24));
    const far = new MessageDeflater(15, true).compress(Buffer.concat([block, block]));
    expect(() => new MessageInflater(10, true).inflate(far)).toThrow(/too far back/);
    expect(new MessageInflater(11, true).inflate(far).length).toBe(4000);
  });

  it('refuses a message that refers to an earlier one when no context takeover was agreed', () => {
    const d = new MessageDeflater(15, false);
    const i = new MessageInflater(15, true);
    i.inflate(d.compress(Buffer.from('the same words, the same words')));
    expect(() => i.inflate(d.compress(Buffer.from('the same words, the same words')))).toThrow(/too far back|invalid/);
  });

  const agreements: [string, string | undefined, string | RegExp | object | null][] = [
    ['permessage-deflate; client_max_window_bits', 'permessage-deflate; client_max_window_bits=10', { clientBits: 10, serverBits: 15 }],
    ['permessage-deflate; client_max_window_bits=9', 'permessage-deflate', { clientBits: 9 }],
    ['permessage-deflate; client_no_context_takeover', 'permessage-deflate', { clientNoContextTakeover: true }],
    ['permessage-deflate', undefined, null],
    ['permessage-deflate', 'permessage-deflate; client_max_window_bits=10', /not offered/],
    ['permessage-deflate; server_max_window_bits=10', 'permessage-deflate', /fits no offer/],
    ['permessage-deflate; server_max_window_bits=10', 'permessage-deflate; server_max_window_bits=11', /fits no offer/],
    ['permessage-deflate; server_no_context_takeover', 'permessage-deflate', /not answered/],
    ['permessage-deflate', 'permessage-deflate; client_max_window_bits', /without a value/],
    ['permessage-deflate', 'permessage-deflate, permessage-deflate', /not one permessage-deflate/],
    ['permessage-deflate; server_max_window_bits=7, permessage-deflate', 'permessage-deflate', { serverBits: 15 }],
  ];
  for (const [offer, answer, want] of agreements) {
    it(`agrees ${JSON.stringify(answer)} to ${JSON.stringify(offer)} as a strict client does`, () => {
      const got = agree(offer, answer);
      if (want === null) expect(got).toBeNull();
      else if (want instanceof RegExp) expect(got).toMatch(want);
      else expect(got as object).toMatchObject(want as object);
    });
  }

  it('parses quoted parameter values, which must still be tokens (RFC 6455 §9.1)', () => {
    expect(parseExtensions('a; x="10", b')).toEqual([
      { name: 'a', params: [['x', '10']] },
      { name: 'b', params: [] },
    ]);
    expect(parseExtensions('a; x="1,2"')).toMatch(/bad parameter value/);
  });
});

interface DeflateFake {
  /** What the fake answers to every offer. */
  answer: string;
  /** The compressor it really uses for its echoes: (window bits, no context takeover). */
  deflater?: [number, boolean];
  /** Echo compressed messages uncompressed. */
  plain?: boolean;
  /** Put RSV1 on the continuation frames of its compressed echoes too. */
  rsv1OnContinuation?: boolean;
}

/** A lenient echo server that compresses its echoes however it is told, whatever it agreed. */
function deflateFake(b: DeflateFake): Promise<ScriptedServer> {
  return startScriptedServer(
    (peer) => {
      const deflater = b.deflater ? new MessageDeflater(...b.deflater) : peer.deflate?.out;
      peer.onEvent = (e) => {
        // The peer answers the close frame itself; a server then ends TCP.
        if (e.type === 'close') setImmediate(() => peer.socket.end());
        if (e.type !== 'message' || peer.closeSent) return;
        const opcode = e.binary ? OP.binary : OP.text;
        if (b.plain || !deflater || e.data.length < 1024) {
          void peer.sendFrames([{ opcode, payload: e.data }]);
          return;
        }
        const z = deflater.compress(e.data);
        const half = z.length >> 1;
        void peer.sendFrames([
          { opcode, payload: z.subarray(0, half), rsv: 4, fin: false },
          { opcode: OP.cont, payload: z.subarray(half), rsv: b.rsv1OnContinuation ? 4 : 0 },
        ]);
      };
    },
    (): Answer => ({ extensions: b.answer }),
  );
}

describe('the live harness fails servers that misuse permessage-deflate', () => {
  let server: ScriptedServer | undefined;
  const saved = { ...WAIT };
  afterEach(async () => {
    Object.assign(WAIT, saved);
    await server?.close();
  });

  async function problemsOf(b: DeflateFake, id: string): Promise<string> {
    Object.assign(WAIT, { closeFrame: 300, tcpEnd: 300, received: 300 });
    server = await deflateFake(b);
    const c = serverCases.find((x) => x.id === id);
    if (c?.kind !== 'session') throw new Error(`no session case ${id}`);
    const port = server.port;
    return (await runSession(c, { open: () => openClientPeer(port, { ...c.offer }) })).problems.join('\n');
  }

  // 13.x.16 offers server_max_window_bits=9 (and nothing else) and expects it answered.
  const offer9 = serverCases.find(
    (x) => x.kind === 'session' && x.offer?.extensions === 'permessage-deflate; server_max_window_bits=9',
  )!.id;
  // 13.x.5: server_no_context_takeover alone.
  const offerNct = serverCases.find(
    (x) => x.kind === 'session' && x.offer?.extensions === 'permessage-deflate; server_no_context_takeover',
  )!.id;

  it('a server that honours what it agreed passes', async () => {
    expect(await problemsOf({ answer: 'permessage-deflate; server_max_window_bits=9' }, offer9)).toBe('');
  });

  it('a server that agrees a 9-bit window and compresses with 15 bits fails', async () => {
    expect(await problemsOf({ answer: 'permessage-deflate; server_max_window_bits=9', deflater: [15, false] }, offer9)).toMatch(
      /does not inflate under the agreed parameters \(invalid distance too far back\)/,
    );
  });

  it('a server that agrees no context takeover and keeps its context fails', async () => {
    expect(await problemsOf({ answer: 'permessage-deflate; server_no_context_takeover', deflater: [15, false] }, offerNct)).toMatch(
      /does not inflate under the agreed parameters/,
    );
  });

  it('a server that does not compress what it should fails', async () => {
    expect(await problemsOf({ answer: 'permessage-deflate; server_max_window_bits=9', plain: true }, offer9)).toMatch(
      /received \[.*plain.*expected \[.*deflated/,
    );
  });

  it('a server that sets RSV1 on continuation frames fails', async () => {
    expect(await problemsOf({ answer: 'permessage-deflate; server_max_window_bits=9', rsv1OnContinuation: true }, offer9)).toMatch(
      /RSV1 on a continuation frame/,
    );
  });

  it('a server whose answer does not fit the offer fails the handshake', async () => {
    expect(await problemsOf({ answer: 'permessage-deflate; server_max_window_bits=12' }, offer9)).toMatch(/^handshake: .*fits no offer/);
  });
});

describe('the live harness fails clients that misbehave', () => {
  let server: ScriptedServer | undefined;
  const saved = { ...WAIT };
  afterEach(async () => {
    Object.assign(WAIT, saved);
    await server?.close();
  });

  /** Runs client case `id` against a fake client: the suite's own client peer, scripted by `fake`. */
  async function problemsOf(id: string, fake: (client: ScriptedPeer) => void): Promise<string> {
    Object.assign(WAIT, { closeFrame: 300, tcpEnd: 300, received: 300 });
    let serverPeer: ScriptedPeer | undefined;
    server = await startScriptedServer((p) => (serverPeer = p));
    const opened = await openClientPeer(server.port);
    if (!opened.ok) throw new Error(opened.problem);
    fake(opened.peer);
    const c = clientCases.find((x) => x.id === id);
    if (c?.kind !== 'session') throw new Error(`no session case ${id}`);
    const outcome = await runSession(c, { role: 'server', open: async () => ({ ok: true, peer: serverPeer! }) });
    opened.peer.socket.destroy();
    return outcome.problems.join('\n');
  }

  it('a client that echoes the close frame and waits for the server passes 7.c.1', async () => {
    expect(await problemsOf('7.c.1', () => {})).toBe('');
  });

  it('a client that ends TCP right after echoing the close frame fails 7.c.1', async () => {
    expect(
      await problemsOf('7.c.1', (client) => {
        client.onEvent = (e) => {
          if (e.type === 'sent-close') setImmediate(() => client.socket.end());
        };
      }),
    ).toMatch(/must wait for the server/);
  });

  it('a client that sends unmasked frames fails', async () => {
    expect(
      await problemsOf('1.1.2', (client) => {
        client.onEvent = (e) => {
          if (e.type === 'message') void client.sendFrames([{ opcode: OP.text, payload: e.data, mask: false }]);
        };
      }),
    ).toMatch(/unmasked frame from a client/);
  });
});
