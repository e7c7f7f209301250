/**
 * Child processes running test/fixtures/node-process.ts, and WebSocket clients of them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect, type Message, type WebSocket } from '@wsup/core';
import type { NodeConfig, NodeEvent } from '../fixtures/node-process.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/node-process.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export class NodeProcess {
  private constructor(
    private readonly child: ChildProcess,
    /** Everything the node reported, in order. */
    readonly events: NodeEvent[],
    readonly port: number,
    readonly nodeId: string,
  ) {}

  /** Starts a node and resolves once it listens and its broker is connected to Redis. */
  static async start(config: NodeConfig): Promise<NodeProcess> {
    const child = fork(FIXTURE, [JSON.stringify(config)], {
      cwd: REPO_ROOT,
      execArgv: ['--conditions=@wsup/source', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const events: NodeEvent[] = [];
    child.on('message', (e: NodeEvent) => events.push(e));
    const listening = await new Promise<Extract<NodeEvent, { type: 'listening' }>>((resolve, reject) => {
      const onMessage = (e: NodeEvent): void => {
        if (e.type !== 'listening') return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(e);
      };
      const onExit = (code: number | null): void => reject(new Error(`node process exited with ${code} before listening`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    const node = new NodeProcess(child, events, listening.port, listening.nodeId);
    await node.until((e) => e.type === 'connected');
    return node;
  }

  /** `ws://127.0.0.1:<port>` */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** How many events of `type` the node has reported. */
  count(type: NodeEvent['type']): number {
    return this.events.filter((e) => e.type === type).length;
  }

  /**
   * Waits until the node has reported an event matching `pred` (or has already), and returns the
   * first such. Fails if the node exits first or after `timeout` ms.
   */
  until(pred: (e: NodeEvent) => boolean, timeout = 15_000): Promise<NodeEvent> {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      const onMessage = (e: NodeEvent): void => {
        if (!pred(e)) return;
        done();
        resolve(e);
      };
      const onExit = (): void => {
        done();
        reject(new Error('the node process exited while awaited'));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`the node did not report the awaited event; it reported: ${JSON.stringify(this.events)}`));
      }, timeout);
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }

  /** Asks the node to close its hub and exit; kills it if it does not. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send({ type: 'exit' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** A WebSocket client that records what it receives. */
export interface Inbox {
  ws: WebSocket;
  /** Received messages, as `summarize` made them. */
  messages: string[];
}

/** Text as is, binary as `bin:<hex>`. */
export function describeMessage(m: Message): string {
  return m.binary ? `bin:${m.data.toString('hex')}` : m.data;
}

/** A client of `baseUrl` (`ws://host:port`) subscribed to `topics`. */
export async function subscribe(
  baseUrl: string,
  topics: string[],
  id = '',
  summarize: (m: Message) => string = describeMessage,
): Promise<Inbox> {
  const query = [...topics.map((t) => `sub=${encodeURIComponent(t)}`), `id=${encodeURIComponent(id)}`].join('&');
  const ws = await connect(`${baseUrl}/?${query}`);
  const inbox: Inbox = { ws, messages: [] };
  ws.on('message', (m) => inbox.messages.push(summarize(m)));
  return inbox;
}

/** A client whose every message the server publishes to `topic`. */
export function publishVia(baseUrl: string, topic: string): Promise<WebSocket> {
  return connect(`${baseUrl}/?pub=${encodeURIComponent(topic)}`);
}

/**
 * A subscriber that never reads: a raw socket that completes the handshake, then stops reading,
 * so everything sent to it piles up in the kernel and then in the server's buffer.
 */
export async function stalledSubscriber(port: number, topics: string[], id: string): Promise<Socket> {
  const query = [...topics.map((t) => `sub=${encodeURIComponent(t)}`), `id=${encodeURIComponent(id)}`].join('&');
  const socket = connectTcp(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    `GET /?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const head = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.pause();
      resolve(text);
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  if (!head.startsWith('HTTP/1.1 101')) throw new Error(`no 101: ${head}`);
  socket.on('error', () => undefined);
  return socket;
}
