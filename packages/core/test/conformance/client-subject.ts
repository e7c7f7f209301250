/**
 * The implementation under test for the client suite: wsup's connect() with a case's options,
 * then an echo of every message with its opcode, as Autobahn's fuzzing server expects of the
 * clients it tests. Nothing else: no test helper sits between the suite and wsup's public API.
 */
import { connect, type CloseInfo, type ConnectOptions, type WebSocket } from '@wsup/core';

/** A configuration of the client, named by a case's `subject`. */
export interface ClientSubject {
  options?: ConnectOptions;
  /** Instead of echoing the first message, close with this code and reason. */
  closeOnFirstMessage?: { code: number; reason: string };
}

export type ClientAttempt = { ok: true; ws: WebSocket; closed: Promise<CloseInfo> } | { ok: false; error: unknown };

export async function runClientSubject(url: string, subject: ClientSubject): Promise<ClientAttempt> {
  let ws: WebSocket;
  try {
    ws = await connect(url, subject.options);
  } catch (error) {
    return { ok: false, error };
  }
  void (async () => {
    for await (const m of ws) {
      if (subject.closeOnFirstMessage) {
        void ws.close(subject.closeOnFirstMessage.code, subject.closeOnFirstMessage.reason);
        return;
      }
      // Wait while the peer is behind, so that a flood (12.x with 1000 messages) is pushed back by
      // TCP instead of meeting maxBuffered. A close while waiting ends the loop.
      if (!ws.send(m.data, m.binary)) await ws.drained().catch(() => undefined);
    }
  })();
  return { ok: true, ws, closed: ws.closed };
}
