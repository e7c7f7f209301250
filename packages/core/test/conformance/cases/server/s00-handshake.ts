/**
 * Opening handshake rejections over raw TCP (section 0 is Autobahn's "Handshake" category): the
 * status wsup documents, the headers that go with it, and the server hanging up afterwards.
 */
import type { HandshakeCase } from '../../case.js';

type Lines = Record<string, string | undefined>;

/** A request built from the standard header lines with some changed (value) or removed (undefined). */
function request(over: Lines = {}, first = 'GET / HTTP/1.1'): HandshakeCase['request'] {
  return (port, key) => {
    const lines: Lines = {
      Host: `127.0.0.1:${port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
      ...over,
    };
    const head = Object.entries(lines)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}: ${v}`);
    return `${[first, ...head].join('\r\n')}\r\n\r\n`;
  };
}

const c = (
  id: string,
  title: string,
  req: HandshakeCase['request'],
  status: number,
  headers?: Record<string, string | RegExp>,
): HandshakeCase => ({
  kind: 'handshake',
  id,
  title,
  request: req,
  expect: { status, closes: true, ...(headers ? { headers } : {}) },
});

const upgradeRequired = { 'Sec-WebSocket-Version': '13', Upgrade: /^websocket$/i };

export const section0: HandshakeCase[] = [
  c('0.x.1', 'Sec-WebSocket-Version: 8 → 426 naming version 13', request({ 'Sec-WebSocket-Version': '8' }), 426, upgradeRequired),
  c('0.x.2', 'no Sec-WebSocket-Version → 426', request({ 'Sec-WebSocket-Version': undefined }), 426, upgradeRequired),
  c('0.x.3', 'Sec-WebSocket-Version: 13, 8 (two values) → 426', request({ 'Sec-WebSocket-Version': '13, 8' }), 426, upgradeRequired),
  c('0.x.4', 'key of 15 bytes → 400', request({ 'Sec-WebSocket-Key': Buffer.alloc(15, 1).toString('base64') }), 400),
  c('0.x.5', 'key that is not base64 → 400', request({ 'Sec-WebSocket-Key': '!!!!!!!!!!!!!!!!!!!!!!==' }), 400),
  c('0.x.6', 'no Sec-WebSocket-Key → 400', request({ 'Sec-WebSocket-Key': undefined }), 400),
  c('0.x.7', 'no Upgrade header (a plain GET) → 426', request({ Upgrade: undefined, Connection: undefined }), 426, upgradeRequired),
  c('0.x.8', 'Upgrade: websocket without Connection: Upgrade → 400', request({ Connection: undefined }), 400),
  c('0.x.9', 'no Host → 400', request({ Host: undefined }), 400),
  c('0.x.10', 'POST → 405 allowing GET', request({}, 'POST / HTTP/1.1'), 405, { Allow: 'GET' }),
  c('0.x.11', 'HTTP/1.0 → 400', request({}, 'GET / HTTP/1.0'), 400),
  c('0.x.12', 'malformed Sec-WebSocket-Extensions → 400', request({ 'Sec-WebSocket-Extensions': 'permessage-deflate; =' }), 400),
  c('0.x.13', 'malformed Sec-WebSocket-Protocol → 400', request({ 'Sec-WebSocket-Protocol': 'chat,,superchat' }), 400),
];
