/**
 * The memory budget closing connections is the process being sized too small for its load,
 * which the connections closed (1013) cannot tell the operator: each check that sheds is a
 * `wsup:warning` message (`WSUP_MEMORY_BUDGET_EXCEEDED`), the first a process warning.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import { channels, DEFAULT_MEMORY_BUDGET, setMemoryBudget, upgrade, WarningCode, type WarningMessage, type WebSocket } from '@wsup/core';
import { check } from '../../src/connection/memory-budget.js';
import { handshakeRequest, RawPeer } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer | undefined;
afterEach(async () => {
  setMemoryBudget(DEFAULT_MEMORY_BUDGET);
  await srv?.close();
  srv = undefined;
});

it('warns each time the budget sheds connections, and once as a process warning', async () => {
  const accepted: WebSocket[] = [];
  srv = await startServer((req, res) => {
    accepted.push(upgrade(req, res));
  });
  const messages: WarningMessage[] = [];
  const onMessage = (m: unknown) => void messages.push(m as WarningMessage);
  const warnings: (Error & { code?: string })[] = [];
  const onWarning = (w: Error & { code?: string }) => void (w.name === 'WsupWarning' && warnings.push(w));
  diagnosticsChannel.subscribe(channels.warning, onMessage);
  process.on('warning', onWarning);
  try {
    for (let round = 0; round < 2; round++) {
      const peer = await RawPeer.open(srv.port, handshakeRequest('/'));
      peer.sendFrame({ opcode: 2, payload: Buffer.alloc(2000) });
      await expect.poll(() => accepted[round]?.queuedAmount).toBe(2000);
      setMemoryBudget(1000);
      check();
      setMemoryBudget(DEFAULT_MEMORY_BUDGET);
      expect((await peer.expectClose()).code).toBe(1013);
    }
    await turn();
    expect(messages).toHaveLength(2);
    // The unread message's 2,000 bytes and the 64 its place in the queue is counted for.
    expect(messages[0]).toEqual({
      code: WarningCode.MemoryBudgetExceeded,
      message:
        'WebSocket connections held 2064 bytes, over the memory budget of 1000: closed the one holding the most (1013); raise the budget with setMemoryBudget() or give the process more memory',
    });
    expect(warnings.map((w) => w.code)).toEqual(['WSUP_MEMORY_BUDGET_EXCEEDED']);
  } finally {
    diagnosticsChannel.unsubscribe(channels.warning, onMessage);
    process.off('warning', onWarning);
  }
});
