/** The client conformance suite over HTTP/2: every case on extended CONNECT streams (see client-suite.ts). */
import { describeClientConformance } from './client-suite.js';

describeClientConformance('h2');
