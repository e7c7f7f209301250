/** The server conformance suite over HTTP/2: every session case on extended CONNECT streams of one session (see server-suite.ts). */
import { describeServerConformance } from './server-suite.js';

describeServerConformance('h2');
