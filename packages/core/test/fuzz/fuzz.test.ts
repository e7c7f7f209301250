/**
 * Fuzz properties of the frame parser, the handshake checker and the header grammars. A small
 * budget in every test run; `pnpm fuzz` runs the same properties as a long bounded campaign and
 * prints how many inputs were tried (see budget.ts).
 */
import { afterAll } from 'vitest';
import { summary } from './budget.js';
import { extensionProperties } from './extensions.props.js';
import { frameParserProperties } from './frame-parser.props.js';
import { handshakeProperties } from './handshake.props.js';

frameParserProperties();
handshakeProperties();
extensionProperties();

afterAll(() => {
  console.log(summary());
});
