import Fastify from 'fastify';
import { describe, expect, expectTypeOf, it } from 'vitest';
import wsup from '@wsup/fastify';

interface User {
  name: string;
}

describe('reply.upgrade({ data })', () => {
  it('gives the WebSocket the data, typed as given, for the connection’s life', async () => {
    const app = Fastify();
    await app.register(wsup);
    app.get<{ Querystring: { name: string } }>('/me', (request, reply) => {
      const ws = reply.upgrade<User>({ data: { name: request.query.name } });
      expectTypeOf(ws.data).toEqualTypeOf<User>();
      ws.on('message', () => ws.send(`you are ${ws.data.name}`));
    });
    const ws = await app.injectWS('/me?name=ann');
    ws.send('who am I?');
    expect((await ws.receive())?.data).toBe('you are ann');
    await ws.close();
    await app.close();
  });
});
