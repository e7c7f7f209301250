/**
 * uWebSockets.js (npm `uwebsockets`), the native reference. Broadcast uses its own topics:
 * `/sub` connections subscribe, messages from `/pub` go out with `app.publish`.
 */
import uWS from 'uwebsockets';
import { serve } from '../src/harness.js';

const TOPIC = 'feed';

serve(
  ({ deflate }) =>
    new Promise((resolve, reject) => {
      const limits = {
        // The defaults (16 KiB messages, 64 KiB backpressure) would refuse or drop the 1 MiB
        // scenario's messages.
        maxPayloadLength: 16 * 1024 * 1024,
        maxBackpressure: 256 * 1024 * 1024,
      };
      const app = uWS.App();
      app
        .ws('/sub', { ...limits, open: (ws) => void ws.subscribe(TOPIC) })
        .ws('/pub', {
          ...limits,
          message: (_ws, message, isBinary) => void app.publish(TOPIC, message, isBinary),
        })
        .ws('/*', {
          ...limits,
          // Shared (de)compressors need no context takeover from either side; the generator
          // offers client_no_context_takeover, so uWS can accept.
          compression: deflate ? uWS.SHARED_COMPRESSOR | uWS.SHARED_DECOMPRESSOR : uWS.DISABLED,
          message: (ws, message, isBinary) => {
            ws.send(message, isBinary, true);
          },
        })
        .listen('127.0.0.1', 0, (token) => {
          if (token) resolve(uWS.us_socket_local_port(token));
          else reject(new Error('uWS could not listen'));
        });
    }),
);
