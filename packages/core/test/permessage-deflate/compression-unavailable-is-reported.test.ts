/**
 * Compression that turns itself off is said out loud: on a Node without the synchronous zlib
 * contexts wsup compresses with, every connection that wanted permessage-deflate opens without
 * it, and each time is a `wsup:warning` message (`WSUP_COMPRESSION_UNAVAILABLE`), the first a
 * process warning. This Node has the contexts, so the report itself is called here.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { setImmediate as turn } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { channels, WarningCode, type WarningMessage } from '@wsup/core';
import { canCompress, compressionUnavailable, syncZlibAvailable } from '../../src/permessage-deflate/zlib-sync.js';

it('reports compression turned off on the warning channel each time and as a process warning once', async () => {
  const messages: WarningMessage[] = [];
  const onMessage = (m: unknown) => void messages.push(m as WarningMessage);
  const warnings: (Error & { code?: string })[] = [];
  const onWarning = (w: Error & { code?: string }) => void (w.name === 'WsupWarning' && warnings.push(w));
  diagnosticsChannel.subscribe(channels.warning, onMessage);
  process.on('warning', onWarning);
  try {
    compressionUnavailable();
    compressionUnavailable();
    await turn();
    expect(messages).toHaveLength(2);
    expect(messages[0]).toEqual({
      code: WarningCode.CompressionUnavailable,
      message: expect.stringContaining('permessage-deflate is off'),
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.code).toBe('WSUP_COMPRESSION_UNAVAILABLE');
    expect(warnings[0]!.message).toBe(messages[0]!.message);
  } finally {
    diagnosticsChannel.unsubscribe(channels.warning, onMessage);
    process.off('warning', onWarning);
  }
});

it('negotiates compression, without a word, where the contexts work (this Node)', async () => {
  const messages: unknown[] = [];
  const onMessage = (m: unknown) => void messages.push(m);
  diagnosticsChannel.subscribe(channels.warning, onMessage);
  try {
    expect(syncZlibAvailable).toBe(true);
    expect(canCompress()).toBe(true);
    expect(messages).toEqual([]);
  } finally {
    diagnosticsChannel.unsubscribe(channels.warning, onMessage);
  }
});
