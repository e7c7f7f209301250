/** The broker's parts that need no server: mode detection (the envelope and the outage buffer are core's broker kit). */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { detectMode } from '../src/capabilities.js';

describe('detectMode', () => {
  /** The parts of an ioredis client detectMode uses. */
  function fake(call: () => Promise<unknown>, info: () => Promise<string>, status = 'ready'): Redis {
    return { call, info, status } as unknown as Redis;
  }
  const denied = () => Promise.reject(new Error('NOPERM'));

  it('asks COMMAND INFO SPUBLISH: a description means sharded, [null] classic', async () => {
    expect(await detectMode(fake(async () => [['spublish', 3]], denied))).toBe('sharded');
    expect(await detectMode(fake(async () => [null], denied))).toBe('classic');
  });

  it("falls back to INFO's version where COMMAND is denied, and to classic when both are", async () => {
    expect(await detectMode(fake(denied, async () => '# Server\r\nredis_version:7.2.4\r\n'))).toBe('sharded');
    expect(await detectMode(fake(denied, async () => '# Server\r\nredis_version:6.2.14\r\n'))).toBe('classic');
    expect(await detectMode(fake(denied, denied))).toBe('classic');
  });

  it('does not take a lost connection for an old server', async () => {
    await expect(detectMode(fake(denied, async () => 'redis_version:7.0.0', 'reconnecting'))).rejects.toThrow('NOPERM');
  });
});
