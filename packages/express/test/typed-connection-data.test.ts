import express from 'express';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { injectWS } from '@wsup/express';

interface User {
  name: string;
}

describe('res.upgrade({ data })', () => {
  it('gives the WebSocket the data, typed as given, for the connection’s life', async () => {
    const app = express();
    app.get('/me', (req, res) => {
      const ws = res.upgrade({ data: { name: String(req.query.name) } satisfies User });
      expectTypeOf(ws.data).toEqualTypeOf<{ name: string }>();
      ws.on('message', () => ws.send(`you are ${ws.data.name}`));
    });
    const ws = await injectWS(app, '/me?name=ann');
    ws.send('who am I?');
    expect((await ws.receive())?.data).toBe('you are ann');
    await ws.close();
  });
});
