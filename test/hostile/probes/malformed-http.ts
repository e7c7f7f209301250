/**
 * Malformed HTTP: request heads no server should accept, on the WebSocket route: garbage,
 * broken request lines and header lines, oversized heads (one huge header, 5,000 small
 * ones, a huge URL, a 1 MiB header), request smuggling's Content-Length + Transfer-Encoding, and
 * upgrade requests broken in WebSocket ways (key, version, method, extensions). Every one must be
 * answered with an HTTP error or closed, none upgraded, none left hanging.
 */
import type { Probe, Scale } from '../harness.js';
import { Counter, handshakeRequest, MiB, n, pool, RawClient } from '../wire.js';

/** Seeded bytes, so a failing case can be replayed. */
function garbage(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >> 16;
  }
  return out;
}

const CRLF = '\r\n';
const upgradeHeaders =
  'Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

const KINDS: Record<string, () => string | Buffer> = {
  garbage: () => Buffer.concat([garbage(512, 7), Buffer.from(CRLF + CRLF)]),
  'bad method': () => `G\x01T /echo HTTP/1.1${CRLF}${upgradeHeaders}${CRLF}`,
  'bad version': () => `GET /echo HTTP/7.3${CRLF}${upgradeHeaders}${CRLF}`,
  'header without colon': () => `GET /echo HTTP/1.1${CRLF}${upgradeHeaders}Upgrade websocket${CRLF}${CRLF}`,
  'control character in a header': () => `GET /echo HTTP/1.1${CRLF}${upgradeHeaders}X-A: a\x01b${CRLF}${CRLF}`,
  'huge header (64 KiB)': () => `GET /echo HTTP/1.1${CRLF}${upgradeHeaders}X-Big: ${'a'.repeat(64 * 1024)}${CRLF}${CRLF}`,
  'huge header (1 MiB)': () => `GET /echo HTTP/1.1${CRLF}${upgradeHeaders}X-Big: ${'a'.repeat(MiB)}${CRLF}${CRLF}`,
  // Distinct names: Node's size check lets 24 KB of one repeated short header through (it keeps 2,000 and drops the rest).
  '5,000 headers': () =>
    `GET /echo HTTP/1.1${CRLF}${upgradeHeaders}${Array.from({ length: 5000 }, (_, i) => `X-N${i}: v${CRLF}`).join('')}${CRLF}`,
  'huge URL (64 KiB)': () => `GET /echo?${'q'.repeat(64 * 1024)} HTTP/1.1${CRLF}${upgradeHeaders}${CRLF}`,
  'Content-Length + Transfer-Encoding': () =>
    `GET /echo HTTP/1.1${CRLF}${upgradeHeaders}Content-Length: 5${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}0${CRLF}${CRLF}`,
  'no Host': () => handshakeRequest('/echo', {}, ['Host']),
  'bad Sec-WebSocket-Key': () => handshakeRequest('/echo', { 'Sec-WebSocket-Key': 'short' }),
  'two Sec-WebSocket-Keys': () => `GET /echo HTTP/1.1${CRLF}${upgradeHeaders}Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==${CRLF}${CRLF}`,
  'Sec-WebSocket-Version: 99': () => handshakeRequest('/echo', { 'Sec-WebSocket-Version': '99' }),
  'POST upgrade': () => handshakeRequest('/echo').replace(/^GET/, 'POST'),
  'broken Sec-WebSocket-Extensions': () => handshakeRequest('/echo', { 'Sec-WebSocket-Extensions': 'permessage-deflate;;=,"' }),
};

const REPEATS: Record<Scale, number> = { ci: 4, soak: 250 };

export const malformedHttp: Probe = {
  id: 'malformed-http',
  title: 'malformed HTTP (garbage heads, huge headers)',
  budgetMs: { ci: 10_000, soak: 120_000 },
  rssBound: { ci: 32 * MiB, soak: 48 * MiB },

  async run(ctx) {
    const names = Object.keys(KINDS);
    const requests = names.map((name) => KINDS[name]!());
    const statuses = new Counter();
    const byKind = new Map<string, Counter>();
    const total = names.length * REPEATS[ctx.scale];
    const done = await pool(total, 16, ctx.deadline - 5000, async (i) => {
      const kind = i % names.length;
      const client = await RawClient.open(ctx.port, ctx.track, { raw: requests[kind]!, timeoutMs: 3000 });
      const answer = client.status ?? (client.endedBy === 'timeout' ? 'hung' : `closed (${client.endedBy})`);
      statuses.add(answer);
      const counter = byKind.get(names[kind]!) ?? new Counter();
      counter.add(answer);
      byKind.set(names[kind]!, counter);
      client.destroy();
    });
    await ctx.hold();
    const kinds = Object.fromEntries([...byKind].map(([k, c]) => [k, c.toJSON()]));
    return {
      summary: `${n(done)} heads of ${names.length} kinds: ${statuses}`,
      facts: { statuses: statuses.toJSON(), kinds, alive: ctx.serverAlive() },
    };
  },

  expectWsup(outcome) {
    const { statuses, kinds } = outcome.facts as { statuses: Record<string, number>; kinds: Record<string, Record<string, number>> };
    const broken: string[] = [];
    if (statuses.hung) broken.push(`${statuses.hung} heads neither answered nor closed within 3 s`);
    for (const [kind, answers] of Object.entries(kinds)) {
      if (answers['101']) broken.push(`'${kind}' was upgraded`);
      const ok = Object.keys(answers).every((a) => /^[45]\d\d$/.test(a) || a.startsWith('closed'));
      if (!ok) broken.push(`'${kind}' got ${JSON.stringify(answers)}`);
    }
    return broken;
  },
};
