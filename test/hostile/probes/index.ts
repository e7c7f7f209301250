/** Every hostile-load probe, in the order the suite and the soak run them. Adding one: a module here and a line below. */
import type { Probe } from '../harness.js';
import { abruptResets } from './abrupt-resets.js';
import { churn } from './churn.js';
import { connectionFlood } from './connection-flood.js';
import { crossOrigin } from './cross-origin.js';
import { deflateAmplification } from './deflate-amplification.js';
import { deflateBombProbe } from './deflate-bomb.js';
import { fragmentFlood } from './fragment-flood.js';
import { malformedHttp } from './malformed-http.js';
import { pingFlood } from './ping-flood.js';
import { pongFlood } from './pong-flood.js';
import { slowReaders } from './slow-readers.js';
import { slowloris } from './slowloris.js';

export const PROBES: readonly Probe[] = [
  pingFlood,
  pongFlood,
  slowReaders,
  slowloris,
  deflateBombProbe,
  deflateAmplification,
  fragmentFlood,
  connectionFlood,
  churn,
  abruptResets,
  malformedHttp,
  crossOrigin,
];
