/**
 * How the chat delivers through core's topics: one publish per room message, whatever the number
 * of members, and a compression agreement that lets the hub compress it once for all of them.
 */
import { connect, type WebSocket } from '@wsup/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createChatServer, type ChatServer } from '../src/app.js';
import { chatUrl, collect, nextOf, say, sendJson, type ChatClient } from './clients.js';

const running: ChatServer[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(running.splice(0).map((chat) => chat.close()));
});

async function start(): Promise<ChatServer> {
  const chat = await createChatServer({ log: () => {} });
  running.push(chat);
  return chat;
}

/** Joins with permessage-deflate offered, as browsers do. */
async function join(chat: ChatServer, name: string): Promise<ChatClient> {
  const ws = await connect(chatUrl(chat), { compress: true });
  sockets.push(ws);
  sendJson(ws, { type: 'join', room: 'lobby', name });
  return { ws, joined: await nextOf(ws, 'joined') };
}

describe('delivery through topics', () => {
  it('publishes a room message once for the whole room, not once per member', async () => {
    const chat = await start();
    const alice = await join(chat, 'alice');
    const bob = await join(chat, 'bob');
    const carol = await join(chat, 'carol');
    await nextOf(alice.ws, 'presence');
    await nextOf(alice.ws, 'presence');
    await nextOf(bob.ws, 'presence');

    const hub = chat.router.hub;
    const publish = hub.publish.bind(hub);
    const published: string[] = [];
    hub.publish = (topic, data, binary, options) => {
      published.push(`${topic} ${(JSON.parse(String(data)) as { type: string }).type}`);
      return publish(topic, data, binary, options);
    };
    await say(alice, 'hello, both of you');
    for (const other of [bob, carol]) expect(await nextOf(other.ws, 'message')).toMatchObject({ text: 'hello, both of you' });
    expect(published).toEqual(['room:lobby message']);
  });

  it('agrees on server_no_context_takeover on /chat, and delivers a compressed room message intact to every member', async () => {
    const chat = await start();
    const members = [await join(chat, 'alice'), await join(chat, 'bob'), await join(chat, 'carol')];
    for (const member of members) expect(member.ws.extensions).toMatch(/^permessage-deflate;.*\bserver_no_context_takeover\b/);
    const long = 'over the compression threshold, '.repeat(50).trim(); // 1,649 characters
    sendJson(members[0]!.ws, { type: 'say', text: long });
    // (The earlier joiners get the later ones' presence notices first; collect() skips them.)
    for (const member of members) expect((await collect(member.ws, 'message', 1))[0]!.text).toBe(long);
  });
});
