/** The client conformance suite over HTTP/1.1 (see client-suite.ts). */
import { describeClientConformance } from './client-suite.js';

describeClientConformance('http/1.1');
