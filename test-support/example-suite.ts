/**
 * The end-to-end checks every framework example passes: the same small app (a plain page at `/`
 * and a token-protected WebSocket echo at `/echo`) in each framework.
 */
import type { Server as HttpServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closed, nextMessage, openClient, rawHandshake, statusOf, wsUrl } from './clients.js';

export interface RunningExample {
  server: HttpServer;
  close(): Promise<void>;
}

export function describeExample(name: string, start: () => Promise<RunningExample>): void {
  describe(`${name} example, end to end`, () => {
    let app: RunningExample;
    let base: string;
    beforeAll(async () => {
      app = await start();
      base = wsUrl(app.server).replace('ws:', 'http:');
    });
    afterAll(async () => {
      await app?.close();
    });

    it('serves GET / with 200', async () => {
      const res = await fetch(`${base}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('/echo?token=secret');
    });

    it('answers an upgrade without the token with a real 401 response and closes the connection', async () => {
      const raw = await rawHandshake(app.server, '/echo');
      expect(statusOf(raw)).toBe(401);
      expect(raw).toMatch(/\r\n\r\na valid \?token= is required\n$/);
      expect(statusOf(await rawHandshake(app.server, '/echo?token=wrong'))).toBe(401);
    });

    it('echoes text and binary messages with the token', async () => {
      const client = await openClient(`${wsUrl(app.server)}/echo?token=secret`);
      client.send('hello');
      expect(await nextMessage(client)).toEqual({ data: Buffer.from('hello'), binary: false });
      client.send(Buffer.from([1, 2, 3]));
      expect(await nextMessage(client)).toEqual({ data: Buffer.from([1, 2, 3]), binary: true });
      client.close(1000, 'bye');
      expect((await closed(client)).code).toBe(1000);
    });
  });
}
