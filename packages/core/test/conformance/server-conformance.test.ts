/** The server conformance suite over HTTP/1.1 (see server-suite.ts). */
import { describeServerConformance } from './server-suite.js';

describeServerConformance('http/1.1');
