/**
 * The ceiling: node:net with the least work an echo server can do and still speak WebSocket.
 * A canned 101 (the generator always sends the same key), then every client frame is turned into
 * a server frame in place, inside the chunk it arrived in: the header loses its mask bit and key,
 * the payload is unmasked and slid down over the gap, and the chunk goes straight back out.
 * No parsing into messages, no UTF-8 check, no deflate. Payloads are unmasked by bufferutil's
 * native code (about 4× the speed of the best pure-JS loop here), so the ceiling is not held down
 * by a cost a Node server does not have to pay.
 *
 * Broadcast is the same trick fanned out: a connection to `/sub` is only remembered, and each
 * chunk from the connection to `/pub` is rewritten once and the same Buffer written to every
 * subscriber, one write per subscriber per chunk, which is the least a fan-out can do.
 */
import { createServer } from 'node:net';
import { listen, serve } from '../src/harness.js';
import { Echo } from '../src/raw-echo.js';

serve(() => listen(createServer((socket) => new Echo(socket))));
