/** Every case of the server suite, in Autobahn's order. */
import type { ConformanceCase } from '../../case.js';
import { section0 } from './s00-handshake.js';
import { section1 } from './s01-framing.js';
import { section2 } from './s02-pings.js';
import { section3 } from './s03-reserved-bits.js';
import { section4 } from './s04-opcodes.js';
import { section5 } from './s05-fragmentation.js';
import { section6 } from './s06-utf8.js';
import { section7 } from './s07-close.js';
import { section9 } from './s09-limits.js';
import { section10 } from './s10-misc.js';
import { section12 } from './s12-deflate.js';
import { section12Misuse } from './s12-deflate-misuse.js';
import { section13 } from './s13-deflate-params.js';

export const serverCases: ConformanceCase[] = [
  ...section0,
  ...section1,
  ...section2,
  ...section3,
  ...section4,
  ...section5,
  ...section6,
  ...section7,
  ...section9,
  ...section10,
  ...section12,
  ...section12Misuse,
  ...section13,
];
