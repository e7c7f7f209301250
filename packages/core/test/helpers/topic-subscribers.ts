import { once } from 'node:events';
import { expect } from 'vitest';
import WsClient from 'ws';
import { upgrade, type UpgradeOptions, type WebSocket } from '@wsup/core';
import { startServer, type TestServer } from './server.js';

export type TopicServer = TestServer & { conns: WebSocket[] };
export type Subscriber = WsClient & { inbox: string[] };

/**
 * A server whose every connection subscribes to 't', in the order they came (`conns`); one to
 * `/?maxBuffered=N` gets that limit.
 */
export async function topicServer(opts: UpgradeOptions = {}): Promise<TopicServer> {
  const conns: WebSocket[] = [];
  return Object.assign(
    await startServer((req, res) => {
      const max = new URL(req.url!, 'http://x').searchParams.get('maxBuffered');
      const ws = upgrade(req, res, max === null ? opts : { ...opts, maxBuffered: Number(max) });
      ws.subscribe('t');
      conns.push(ws);
    }),
    { conns },
  );
}

/** `n` `ws` clients of `srv`, one after the other, each keeping the text messages it gets. */
export async function subscribers(srv: TopicServer, n: number, paths: string[] = []): Promise<Subscriber[]> {
  const all = [];
  for (let i = 0; i < n; i++) {
    const c = Object.assign(new WsClient(`${srv.url}${paths[i] ?? '/'}`), { inbox: [] as string[] });
    c.on('message', (d: Buffer) => c.inbox.push(d.toString()));
    await once(c, 'open');
    all.push(c);
  }
  await expect.poll(() => srv.router.hub.subscriberCount('t')).toBe(n);
  return all;
}
