import Koa from 'koa';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { injectWS, websockets } from '@wsup/koa';

interface User {
  name: string;
}

describe('ctx.upgrade({ data })', () => {
  it('gives the WebSocket the data, typed as given, for the connection’s life', async () => {
    const app = new Koa();
    app.use(websockets());
    app.use((ctx) => {
      const ws = ctx.upgrade<User>({ data: { name: String(ctx.query.name) } });
      expectTypeOf(ws.data).toEqualTypeOf<User>();
      ws.on('message', () => ws.send(`you are ${ws.data.name}`));
    });
    const ws = await injectWS(app, '/me?name=ann');
    ws.send('who am I?');
    expect((await ws.receive())?.data).toBe('you are ann');
    await ws.close();
  });
});
