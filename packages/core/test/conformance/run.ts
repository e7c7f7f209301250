/**
 * Runs one case and judges it the way Autobahn does, only strictly: the exact events, the exact
 * close code (a missing close frame is not accepted as "or empty"), the right side closing first,
 * fail-fast timing by marks, and the TCP connection ended by the right side: a server ends it
 * itself; a client waits for the server to, unless it failed the connection (RFC 6455 §7.1.1).
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Expected, HandshakeCase, SessionCase, Step } from './case.js';
import { rawExchange } from './client-peer.js';
import type { PeerEvent, ScriptedPeer } from './peer.js';

/** How long the runner waits for things a correct implementation does at once. */
export const WAIT = {
  /** For the messages a case expects, before we start the close handshake anyway. */
  received: 5000,
  /** For the implementation's close frame. */
  closeFrame: 4000,
  /** For the implementation to end the TCP connection after the close handshake. */
  tcpEnd: 4000,
  /**
   * Client suite: how long a client that (wrongly) ends TCP right after the close handshake is
   * given to show it before the scripted server ends TCP itself. A correct client never does, so
   * this can only miss a slow offender, never fail a correct one.
   */
  clientEndsFirst: 5,
};

/** Which side the scripted peer plays. */
export type Role = 'client' | 'server';

export interface Outcome {
  problems: string[];
  log: PeerEvent[];
}

/** How the runner reaches the implementation under test. */
export interface SessionTarget {
  /** The scripted peer's role; default 'client' (the server suite). */
  role?: Role;
  open(c: SessionCase): Promise<{ ok: true; peer: ScriptedPeer } | { ok: false; problem: string }>;
}

function describePayload(data: Buffer): string {
  if (data.length <= 40)
    return JSON.stringify(data.toString('latin1')).replace(/[\u0080-\uffff]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16)}`);
  return `sha1:${createHash('sha1').update(data).digest('hex').slice(0, 12)}`;
}

function describeEvent(e: Expected | PeerEvent): string {
  switch (e.type) {
    case 'message':
      return `${e.binary ? 'binary' : 'text'}(${e.data.length}${e.compressed === true ? ', deflated' : e.compressed === false ? ', plain' : ''}) ${describePayload(e.data)}`;
    case 'ping':
    case 'pong':
      return `${e.type}(${e.data.length}) ${describePayload(e.data)}`;
    default:
      return e.type;
  }
}

function sameEvent(a: Expected, b: PeerEvent): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'message' && b.type === 'message') {
    if (a.binary !== b.binary) return false;
    if (a.compressed !== undefined && a.compressed !== (b.compressed ?? false)) return false;
  }
  return 'data' in b && a.data.equals(b.data);
}

const receivedEvents = (log: PeerEvent[]) => log.filter((e) => e.type === 'message' || e.type === 'ping' || e.type === 'pong');

async function runStep(peer: ScriptedPeer, s: Step): Promise<void> {
  switch (s.do) {
    case 'send':
      return peer.sendFrames(s.frames, { ...(s.chop === undefined ? {} : { chop: s.chop }), sync: s.sync === true });
    case 'bytes':
      return peer.writeBytes(s.bytes, s.chop === undefined ? {} : { chop: s.chop });
    case 'send-slice':
      return peer.sendSlice(s.frames, s.from, s.to, s.chop);
    case 'pause':
      await sleep(s.ms);
      return;
    case 'await-received':
      await peer.waitFor(() => receivedEvents(peer.log).length >= s.count, s.ms ?? WAIT.received);
      return;
    case 'await-close':
      await peer.waitFor(() => peer.closeReceived, s.ms ?? WAIT.closeFrame);
      return;
    case 'mark':
      peer.mark(s.name);
      return;
    case 'send-message':
      return peer.sendMessage(s.binary, s.data, s.compress, s.fragment);
    case 'ignore-close':
      peer.autoCloseReply = false;
  }
}

/** Judges a finished session's log against the case's expectation. */
export function judge(c: SessionCase, log: PeerEvent[], role: Role = 'client'): string[] {
  const problems: string[] = [];
  const ex = c.expect;

  const received = receivedEvents(log);
  const same = received.length === ex.received.length && ex.received.every((e, i) => sameEvent(e, received[i]!));
  if (!same) {
    const show = (list: (Expected | PeerEvent)[]) =>
      `[${list.slice(0, 6).map(describeEvent).join(', ')}${list.length > 6 ? `, … (${list.length})` : ''}]`;
    problems.push(`received ${show(received)}, expected ${show(ex.received)}`);
  }

  for (const e of log) if (e.type === 'violation') problems.push(`implementation broke the protocol: ${e.what}`);

  const closeAt = log.findIndex((e) => e.type === 'close');
  const sentAt = log.findIndex((e) => e.type === 'sent-close');
  const close = log[closeAt] as Extract<PeerEvent, { type: 'close' }> | undefined;
  if (!close) {
    problems.push(`no close frame from the implementation (expected ${ex.closeCode ?? 'an empty one'})`);
  } else {
    if (close.code !== ex.closeCode) problems.push(`close code ${close.code ?? '(none)'}, expected ${ex.closeCode ?? '(none)'}`);
    const firstByThem = sentAt === -1 || closeAt < sentAt;
    if (ex.closedBy === 'them' && !firstByThem)
      problems.push('the implementation only answered our close; it should have failed the connection first');
    if (ex.closedBy === 'us' && firstByThem) problems.push('the implementation closed first; it should have waited for our close');
  }

  const markAt = (name: string) => log.findIndex((e) => e.type === 'mark' && e.name === name);
  if (ex.closeAfter !== undefined && close && closeAt < markAt(ex.closeAfter)) {
    problems.push(`closed before "${ex.closeAfter}": it failed on input that was still valid`);
  }
  if (ex.closeBefore !== undefined) {
    const m = markAt(ex.closeBefore);
    if (m !== -1 && (!close || closeAt > m)) problems.push(`not failed fast: no close frame before "${ex.closeBefore}" was sent`);
  }

  if (ex.receivedBefore) {
    const m = markAt(ex.receivedBefore.mark);
    const before = receivedEvents(m === -1 ? log : log.slice(0, m)).length;
    if (before < ex.receivedBefore.count) {
      problems.push(`only ${before} of the first ${ex.receivedBefore.count} answers arrived before "${ex.receivedBefore.mark}"`);
    }
  }

  const dropped = log.find((e) => e.type === 'dropped-by-us');
  if (dropped) problems.push(`the implementation did not close the TCP connection (${dropped.why})`);

  // A close frame that is not the echo of ours fails the connection, and then a client may end TCP.
  const ourCode = log.find((e): e is Extract<PeerEvent, { type: 'sent-close' }> => e.type === 'sent-close')?.code;
  const failed = ex.closeIsFailure ?? (ex.closedBy === 'them' || ex.closeCode !== ourCode);
  if (role === 'server' && !failed && !ex.holdTcp) {
    const theyEnded = log.findIndex((e) => e.type === 'tcp-end');
    const weEnded = log.findIndex((e) => e.type === 'ended-by-us');
    if (theyEnded !== -1 && (weEnded === -1 || theyEnded < weEnded)) {
      problems.push('the client ended TCP after a normal close handshake; it must wait for the server to (RFC 6455 §7.1.1)');
    }
  }
  return problems;
}

/** Runs a session case against a target and returns what went wrong, if anything. */
export async function runSession(c: SessionCase, target: SessionTarget): Promise<Outcome> {
  const role = target.role ?? 'client';
  const opened = await target.open(c);
  if (!opened.ok) return { problems: [opened.problem], log: [] };
  const peer = opened.peer;
  try {
    for (const s of c.steps) await runStep(peer, s);

    if (c.expect.closedBy === 'us' && !peer.closeSent && !peer.closeReceived) {
      // As Autobahn: start the close handshake once what we expect has arrived (or we gave up).
      const want = c.expect.received.length;
      await peer.waitFor(() => receivedEvents(peer.log).length >= want || peer.closeReceived, WAIT.received);
      if (!peer.closeReceived) await peer.sendClose(1000);
    }
    if (!(await peer.waitFor(() => peer.closeReceived, WAIT.closeFrame)) && !peer.closed) {
      // No close frame: still give the implementation the chance to end TCP before we do.
      if (!peer.closeSent && peer.autoCloseReply) await peer.sendClose(1000);
    }
    if (role === 'server' && !c.expect.holdTcp) {
      // The server ends TCP (RFC 6455 §7.1.1), once a client that wrongly does it first had its chance.
      await peer.waitFor(() => peer.tcpEnded, WAIT.clientEndsFirst);
      peer.endTcp();
    }
    if (!(await peer.waitFor(() => peer.closed, WAIT.tcpEnd))) peer.drop(`still open ${WAIT.tcpEnd} ms after the close handshake`);
    await peer.waitFor(() => peer.closed, 1000);
  } finally {
    if (!peer.closed) peer.socket.destroy();
  }
  return { problems: judge(c, peer.log, role), log: peer.log };
}

/** Runs a handshake case: one raw request, one HTTP answer, and the connection's end. */
export async function runHandshake(c: HandshakeCase, port: number, key: string): Promise<Outcome> {
  const res = await rawExchange(port, c.request(port, key), WAIT.tcpEnd);
  if (!res) return { problems: ['no HTTP response'], log: [] };
  const problems: string[] = [];
  if (res.status !== c.expect.status) problems.push(`status ${res.status}, expected ${c.expect.status}`);
  for (const [name, want] of Object.entries(c.expect.headers ?? {})) {
    const have = res.headers[name.toLowerCase()];
    const ok = have !== undefined && (typeof want === 'string' ? have === want : want.test(have));
    if (!ok) problems.push(`header ${name}: ${have ?? '(missing)'}, expected ${String(want)}`);
  }
  if (c.expect.closes && !res.closedByServer) problems.push('the server did not close the connection after the rejection');
  return { problems, log: [] };
}
