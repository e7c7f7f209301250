import { describeExample } from '../../../test-support/example-suite.js';
import { start } from '../src/app.js';

describeExample('Express', async () => {
  const server = await start(0);
  return { server, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
});
