/**
 * The floor of `for await` over messages: wsup's `message` event feeding the least such a loop can
 * be, a channel of a few lines (an array read by index, the waiting step's resolve,
 * `Promise.resolve` for a queued message), and the echo sent from the loop. It pays wsup's event
 * path and the loop's promise and microtask per message, nothing else; where it falls short of a
 * target (`for await` within 5% of events, ≥ uWebSockets.js), no `for await` API on this machine
 * meets it.
 */
import type { Message } from '@wsup/core';
import { serveForAwaitEcho } from '../src/for-await-echo.js';

class Channel implements AsyncIterableIterator<Message> {
  private queue: Message[] = [];
  private head = 0;
  private waiting: ((step: IteratorResult<Message>) => void) | undefined;

  push(msg: Message): void {
    const waiting = this.waiting;
    if (waiting === undefined) {
      this.queue.push(msg);
      return;
    }
    this.waiting = undefined;
    waiting({ value: msg, done: false });
  }

  next(): Promise<IteratorResult<Message>> {
    if (this.head < this.queue.length) {
      const msg = this.queue[this.head++]!;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      return Promise.resolve({ value: msg, done: false });
    }
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return this;
  }
}

serveForAwaitEcho((ws) => {
  const channel = new Channel();
  ws.on('message', (msg) => channel.push(msg));
  return channel;
});
