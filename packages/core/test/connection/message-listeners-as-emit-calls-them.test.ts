/**
 * A `message` listener is called as `emit('message')` would call it, though a sole listener is
 * called directly: a replaced emit() still sees every message, `captureRejections` still turns an
 * async listener's rejection into an `error` event, and several listeners each get every message.
 */
import { EventEmitter, once } from 'node:events';
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '@wsup/core';
import { inMemoryPair } from '../helpers/pair.js';

const connected = () => inMemoryPair();

afterEach(() => {
  EventEmitter.captureRejections = false;
});

describe('message listeners', () => {
  it('reach a replaced emit(), which then sees every message', async () => {
    const { server, client } = await connected();
    const emitted: string[] = [];
    const original = server.emit.bind(server);
    server.emit = ((event: string, ...args: unknown[]) => {
      if (event === 'message') emitted.push(String((args[0] as Message).data));
      return (original as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    }) as typeof server.emit;
    const heard: string[] = [];
    server.on('message', (m) => heard.push(String(m.data)));
    client.send('one');
    client.send('two');
    while (heard.length < 2) await turn();
    expect(emitted).toEqual(['one', 'two']);
    expect(heard).toEqual(['one', 'two']);
    client.terminate();
  });

  it('turn an async listener’s rejection into an error event when captureRejections is on', async () => {
    EventEmitter.captureRejections = true;
    const { server, client } = await connected();
    const failure = new Error('the handler failed');
    server.on('message', async () => {
      throw failure;
    });
    const error = once(server, 'error');
    client.send('x');
    const [err] = await Promise.race([error, sleep(2000).then(() => [new Error('no error event within 2 s')])]);
    expect(err).toBe(failure);
    client.terminate();
  });

  it('each get every message when there are several, in the order they were added', async () => {
    const { server, client } = await connected();
    const heard: string[] = [];
    server.on('message', (m) => heard.push(`a:${String(m.data)}`));
    server.on('message', (m) => heard.push(`b:${String(m.data)}`));
    client.send('1');
    client.send('2');
    while (heard.length < 4) await turn();
    expect(heard).toEqual(['a:1', 'b:1', 'a:2', 'b:2']);
    client.terminate();
  });

  it('are called on the WebSocket, with the message, as emit() calls them', async () => {
    const { server, client } = await connected();
    const calls: { self: unknown; args: unknown[] }[] = [];
    server.on('message', function (this: unknown, ...args: unknown[]) {
      calls.push({ self: this, args });
    });
    client.send('hello');
    while (calls.length < 1) await turn();
    expect(calls[0]!.self).toBe(server);
    expect(calls[0]!.args).toEqual([{ data: 'hello', binary: false, fin: true }]);
    client.terminate();
  });
});
