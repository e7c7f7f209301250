/**
 * Chat server processes (test/fixtures/chat-process.ts) sharing a Redis, for the multi-process
 * tests, and protocol clients of them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { WebSocket } from '@wsup/core';
import type { ChatOptions, ChatServer } from '../src/app.js';
import type { ChatProcessEvent } from './fixtures/chat-process.js';
import { joinChat, type ChatClient } from './clients.js';

const FIXTURE = fileURLToPath(new URL('fixtures/chat-process.ts', import.meta.url));
const CHAT_DIR = fileURLToPath(new URL('..', import.meta.url));

export class ChatProcess {
  /** What the process logged: unexpected errors, which the tests expect none of. */
  readonly logged: string[] = [];
  private readonly sockets: WebSocket[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on('message', (e: ChatProcessEvent) => {
      if (e.type === 'log') this.logged.push(`${e.message}: ${e.error}`);
    });
  }

  /** Starts a process; resolves once it listens (which it does once connected to Redis). */
  static async start(options: ChatOptions): Promise<ChatProcess> {
    const child = fork(FIXTURE, [JSON.stringify(options)], {
      cwd: CHAT_DIR,
      execArgv: ['--conditions=@wsup/source', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`chat process exited with ${code} before listening`));
      child.once('exit', onExit);
      child.on('message', (e: ChatProcessEvent) => {
        if (e.type !== 'listening') return;
        child.off('exit', onExit);
        resolve(e.port);
      });
    });
    return new ChatProcess(child, port);
  }

  /** As a `ChatServer` for clients.ts, which only needs the port. */
  get server(): ChatServer {
    return { port: this.port } as ChatServer;
  }

  /** Connects and joins `room` as `name`. */
  async join(room: string, name: string): Promise<ChatClient> {
    const client = await joinChat(this.server, room, name);
    this.sockets.push(client.ws);
    return client;
  }

  /** Kills the process at once, as a crash would: no close frames, no leaves. */
  async crash(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Closes the clients, then the server (gracefully; killed if it hangs). */
  async stop(): Promise<void> {
    for (const ws of this.sockets.splice(0)) ws.terminate();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
