import { describeExample } from '../../../test-support/example-suite.js';
import { start } from '../src/app.js';

describeExample('Fastify', async () => {
  const app = await start(0);
  return { server: app.server, close: () => app.close() };
});
