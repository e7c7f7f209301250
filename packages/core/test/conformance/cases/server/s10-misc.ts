/** Section 10: a message auto-fragmented by the sender. */
import { closesNormally, frame, got, step, type SessionCase } from '../../case.js';
import { pieces, stars } from '../payloads.js';

const payload = Buffer.from(stars(65536));
const frames = pieces(payload, 1300).map((p, i, all) =>
  i === 0 ? frame.text(p, { fin: false }) : frame.cont(p, { fin: i === all.length - 1 }),
);

export const section10: SessionCase[] = [
  {
    kind: 'session',
    id: '10.1.1',
    title: 'text message of 65536 bytes auto-fragmented into 1300-byte frames',
    steps: [step.send(...frames)],
    expect: closesNormally(got.text(payload)),
  },
];
