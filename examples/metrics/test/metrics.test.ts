/**
 * The metrics example end to end: real WebSockets (the core client, with permessage-deflate)
 * against the app on a free port, then a scrape of /metrics whose figures must be exactly the
 * traffic the test made.
 */
import { constants, deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type WebSocket } from '@wsup/core';
import { type MetricsServer, start } from '../src/app.js';

/** The samples of a Prometheus text exposition, by `name{labels}` as written, and the `# TYPE` lines. */
function parse(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { samples, types };
}

/**
 * The payload size of `data` as the first compressed message of a connection, with wsup's default
 * compression (level 1, memLevel 8, a 15-bit window): sync-flushed raw deflate less its trailing
 * 00 00 ff ff (RFC 7692 §7.2.1).
 */
/** A first message's compressed size: wsup's client compresses at level 1, its server (one shared deflater) at level 3. */
function compressedSize(data: Buffer, level = 1): number {
  return deflateRawSync(data, { level, memLevel: 8, windowBits: 15, finishFlush: constants.Z_SYNC_FLUSH }).length - 4;
}

describe('the metrics example, end to end', () => {
  let app: MetricsServer;
  beforeAll(async () => {
    app = await start(0);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('serves GET / and Prometheus text at /metrics, with the wsup metrics and the default Node.js ones', async () => {
    expect(await (await fetch(`${app.url}/`)).text()).toContain('/metrics');
    const res = await fetch(`${app.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types } = parse(await res.text());
    expect(Object.fromEntries([...types].filter(([name]) => name.startsWith('wsup_')))).toEqual({
      wsup_websockets_open: 'gauge',
      wsup_websockets_opened_total: 'counter',
      wsup_websockets_closed_total: 'counter',
      wsup_handshakes_refused_total: 'counter',
      wsup_messages_total: 'counter',
      wsup_message_bytes_total: 'counter',
      wsup_buffered_bytes: 'gauge',
      wsup_terminations_total: 'counter',
      wsup_websocket_duration_seconds: 'histogram',
    });
    expect(types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
  });

  it('counts exactly the traffic made: connections, close codes, a refused GET, messages, wire and uncompressed bytes', async () => {
    const short = 'hello'; // under the 1 KiB threshold: sent as is, both ways
    const long = Buffer.from('wsup metrics, '.repeat(150)); // 2,100 bytes: compressed both ways
    const binary = Buffer.from([1, 2, 3]);
    const wireLong = compressedSize(long);
    expect(wireLong).toBeLessThan(long.length / 10); // it is a saving worth showing

    const clients: WebSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const ws = await connect(`${app.url.replace('http:', 'ws:')}/echo`, { compress: true });
      expect(ws.extensions).toMatch(/^permessage-deflate/);
      clients.push(ws);
    }
    for (const ws of clients) {
      ws.send(short);
      ws.send(long.toString());
      ws.send(binary, true);
      expect((await ws.receive())?.data).toBe(short);
      expect((await ws.receive())?.data).toBe(long.toString());
      expect((await ws.receive())?.data).toEqual(binary);
    }
    await clients[0]!.close(1000, 'done');
    await clients[1]!.close(4000, 'app-specific');
    // A plain GET on the WebSocket route: answered 426 Upgrade Required.
    expect((await fetch(`${app.url}/echo`)).status).toBe(426);
    // The server's side of the two closes is counted once its connections have ended.
    await expect.poll(() => app.router.stats().closed).toBe(2);

    const { samples } = parse(await (await fetch(`${app.url}/metrics`)).text());
    const wsup = Object.fromEntries([...samples].filter(([name]) => name.startsWith('wsup_') && !name.includes('_bucket')));
    const perConnection = short.length + long.length + binary.length; // 2,108
    const perConnectionWire = short.length + wireLong + binary.length;
    const perConnectionWireOut = short.length + compressedSize(long, 3) + binary.length;
    expect(wsup).toEqual({
      wsup_websockets_open: 1,
      wsup_websockets_opened_total: 3,
      'wsup_websockets_closed_total{code="1000"}': 1,
      'wsup_websockets_closed_total{code="4000"}': 1,
      'wsup_handshakes_refused_total{status="426"}': 1,
      'wsup_messages_total{direction="in"}': 9,
      'wsup_messages_total{direction="out"}': 9,
      'wsup_message_bytes_total{direction="in",encoding="wire"}': 3 * perConnectionWire,
      'wsup_message_bytes_total{direction="in",encoding="uncompressed"}': 3 * perConnection,
      'wsup_message_bytes_total{direction="out",encoding="wire"}': 3 * perConnectionWireOut,
      'wsup_message_bytes_total{direction="out",encoding="uncompressed"}': 3 * perConnection,
      wsup_buffered_bytes: 0,
      'wsup_terminations_total{reason="slow_reader"}': 0,
      'wsup_terminations_total{reason="heartbeat"}': 0,
      'wsup_terminations_total{reason="idle"}': 0,
      'wsup_terminations_total{reason="memory_budget"}': 0,
      'wsup_terminations_total{reason="rate_limit"}': 0,
      wsup_websocket_duration_seconds_sum: expect.any(Number),
      wsup_websocket_duration_seconds_count: 2,
    });
    expect(samples.get('wsup_websocket_duration_seconds_bucket{le="+Inf"}')).toBe(2);
    expect(wsup.wsup_websocket_duration_seconds_sum).toBeGreaterThan(0);
    expect(wsup.wsup_websocket_duration_seconds_sum).toBeLessThan(60);

    await clients[2]!.close(1001, 'leaving');
    await expect.poll(() => app.router.stats().open).toBe(0);
    const after = parse(await (await fetch(`${app.url}/metrics`)).text()).samples;
    expect(after.get('wsup_websockets_open')).toBe(0);
    expect(after.get('wsup_websockets_closed_total{code="1001"}')).toBe(1);
    expect(after.get('wsup_websocket_duration_seconds_count')).toBe(3);
  });
});
