import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handleUpgrades, upgrade } from '@wsup/core';
import { handshakeRequest, RawPeer } from '../helpers/raw.js';

/**
 * `upgrade()` answers a bad handshake and throws its typed error; in plain node:http an error
 * escaping a request handler would crash the process. These pin that wsup stops those errors.
 */
describe('refused upgrades escaping a plain node:http handler', () => {
  const escaped: unknown[] = [];
  const onRejection = (err: unknown) => escaped.push(err);
  beforeEach(() => {
    escaped.length = 0;
    process.on('unhandledRejection', onRejection);
  });
  afterEach(() => {
    process.off('unhandledRejection', onRejection);
  });

  for (const style of ['async', 'sync'] as const) {
    it(`${style} handler: a plain GET and a bad handshake get their status, nothing escapes, 'refused' reports them`, async () => {
      const server = createServer(
        style === 'async'
          ? async (req, res) => {
              const ws = upgrade(req, res); // throws after answering: the handler does not catch
              for await (const m of ws) ws.send(m.data);
            }
          : (req, res) => {
              const ws = upgrade(req, res);
              ws.on('message', (m) => ws.send(m.data));
            },
      );
      const router = handleUpgrades(server);
      const refused: string[] = [];
      router.on('refused', (err) => refused.push((err as unknown as { code: string }).code));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;

      const plain = await fetch(`http://127.0.0.1:${port}/echo`);
      expect(plain.status).toBe(426);
      await plain.text();
      const bad = await RawPeer.open(port, handshakeRequest('/echo', { 'Sec-WebSocket-Version': '7' }));
      expect(bad.response?.status).toBe(426);
      await bad.ended;
      const badKey = await RawPeer.open(port, handshakeRequest('/echo', { 'Sec-WebSocket-Key': 'short' }));
      expect(badKey.response?.status).toBe(400);
      await badKey.ended;

      // The server is alive and still upgrades good requests.
      const good = await RawPeer.open(port, handshakeRequest('/echo'));
      expect(good.response?.status).toBe(101);
      good.sendFrame({ opcode: 1, payload: 'still here' });
      expect((await good.nextFrame())?.payload.toString()).toBe('still here');
      good.destroy();

      await new Promise((r) => setTimeout(r, 20));
      expect(escaped).toEqual([]);
      expect(refused).toEqual(['ERR_HANDSHAKE_NOT_UPGRADE', 'ERR_HANDSHAKE_VERSION', 'ERR_HANDSHAKE_KEY']);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    });
  }

  it('leaves other errors alone', async () => {
    const boom = new Error('application bug');
    const server = createServer(async () => {
      throw boom;
    });
    handleUpgrades(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // The app's handler, as guarded; the handshake deadline's own listener is prepended before it.
    const listener = server.listeners('request').at(-1) as (...a: unknown[]) => Promise<unknown>;
    await expect(listener.call(server, {}, {})).rejects.toBe(boom);
    await new Promise<void>((r) => server.close(() => r()));
  });
});
