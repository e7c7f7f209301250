/** wsup on plain node:http, echoing with `for await`: what the README's example costs. */
import { serveForAwaitEcho } from '../src/for-await-echo.js';

serveForAwaitEcho((ws) => ws);
