/**
 * The chat server over real sockets, at the protocol level: rooms, history, presence, and how it
 * treats clients that do not follow the protocol.
 */
import { connect as connectTcp } from 'node:net';
import { connect, Opcode, type WebSocket } from '@wsup/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createChatServer, type ChatOptions, type ChatServer } from '../src/app.js';
import { Limits } from '../src/protocol.js';
import { chatUrl, joinChat, next, nextOf, say, sendJson, type ChatClient } from './clients.js';

const running: ChatServer[] = [];
const sockets: WebSocket[] = [];

async function start(options: ChatOptions = {}): Promise<ChatServer> {
  const chat = await createChatServer({ log: () => {}, ...options });
  running.push(chat);
  return chat;
}

async function join(chat: ChatServer, room: string, name: string): Promise<ChatClient> {
  const client = await joinChat(chat, room, name);
  sockets.push(client.ws);
  return client;
}

async function open(chat: ChatServer, path = '/chat'): Promise<WebSocket> {
  const ws = await connect(chatUrl(chat, path));
  sockets.push(ws);
  return ws;
}

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(running.splice(0).map((chat) => chat.close()));
});

describe('rooms', () => {
  it('answers a join with the members and an empty history, and tells the others', async () => {
    const chat = await start();
    const alice = await join(chat, 'lobby', 'alice');
    expect(alice.joined).toEqual({ type: 'joined', room: 'lobby', name: 'alice', members: ['alice'], history: [] });

    const bob = await join(chat, 'lobby', 'bob');
    expect(bob.joined.members).toEqual(['alice', 'bob']);
    expect(await nextOf(alice.ws, 'presence')).toMatchObject({ event: 'join', room: 'lobby', name: 'bob', members: ['alice', 'bob'] });
  });

  it('tells the room when someone leaves, by closing or by joining another room', async () => {
    const chat = await start();
    const alice = await join(chat, 'lobby', 'alice');
    const bob = await join(chat, 'lobby', 'bob');
    const carol = await join(chat, 'lobby', 'carol');
    await nextOf(alice.ws, 'presence'); // bob
    await nextOf(alice.ws, 'presence'); // carol

    await bob.ws.close();
    expect(await nextOf(alice.ws, 'presence')).toMatchObject({ event: 'leave', name: 'bob', members: ['alice', 'carol'] });
    expect(await nextOf(carol.ws, 'presence')).toMatchObject({ event: 'leave', name: 'bob' });

    sendJson(carol.ws, { type: 'join', room: 'garden', name: 'carol' });
    expect(await nextOf(carol.ws, 'joined')).toMatchObject({ room: 'garden', members: ['carol'] });
    expect(await nextOf(alice.ws, 'presence')).toMatchObject({ event: 'leave', name: 'carol', members: ['alice'] });
  });

  it('delivers a message to everyone in the room, the sender included', async () => {
    const chat = await start();
    const alice = await join(chat, 'lobby', 'alice');
    const bob = await join(chat, 'lobby', 'bob');
    await nextOf(alice.ws, 'presence');

    await say(alice, 'hello bob');
    const got = await nextOf(bob.ws, 'message');
    expect(got).toMatchObject({ type: 'message', room: 'lobby', name: 'alice', text: 'hello bob' });
    expect(typeof got.id).toBe('string');
    expect(Number.isFinite(got.ts)).toBe(true);
  });

  it('replays the last N messages of the room, oldest first, to a joining client', async () => {
    const chat = await start({ historySize: 3 });
    const alice = await join(chat, 'lobby', 'alice');
    for (const text of ['one', 'two', 'three', 'four', 'five']) await say(alice, text);

    const bob = await join(chat, 'lobby', 'bob');
    expect(bob.joined.history.map((m) => [m.name, m.text])).toEqual([
      ['alice', 'three'],
      ['alice', 'four'],
      ['alice', 'five'],
    ]);
    expect(new Set(bob.joined.history.map((m) => m.id)).size).toBe(3);
  });

  it('replays a history far bigger than what a browser may send (maxPayload bounds only what it receives)', async () => {
    const chat = await start({ historySize: 20, maxPayload: 16 * 1024, rateLimit: { messages: 100 } });
    const alice = await join(chat, 'lobby', 'alice');
    const texts = Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(Limits.text, 'é'));
    for (const text of texts) await say(alice, text);

    const bob = await join(chat, 'lobby', 'bob'); // a joined message of about 80 KB
    expect(bob.joined.history.map((m) => m.text)).toEqual(texts);
  });

  it('keeps rooms apart: messages and history of one room never reach another', async () => {
    const chat = await start();
    const alice = await join(chat, 'red', 'alice');
    const bob = await join(chat, 'blue', 'bob');
    await say(alice, 'only for red');
    // say() checks that bob's next message is his own: alice's, handled first, never reached blue.
    await say(bob, 'only for blue');

    const carol = await join(chat, 'blue', 'carol');
    expect(carol.joined.history.map((m) => m.text)).toEqual(['only for blue']);
    expect(await nextOf(bob.ws, 'presence')).toMatchObject({ name: 'carol', room: 'blue' });
    const dave = await join(chat, 'red', 'dave');
    expect(dave.joined.history.map((m) => m.text)).toEqual(['only for red']);
    expect(await nextOf(alice.ws, 'presence')).toMatchObject({ name: 'dave', room: 'red' });
  });
});

describe('validation', () => {
  async function joined(options: ChatOptions = {}): Promise<ChatClient> {
    const chat = await start({ maxStrikes: 100, ...options });
    return join(chat, 'lobby', 'alice');
  }

  it.each([
    ['bad JSON', '{"type":"say",', 'bad-json'],
    ['a JSON array', '[1,2]', 'bad-message'],
    ['a JSON string', '"hello"', 'bad-message'],
    ['no type', '{"text":"hi"}', 'bad-message'],
    ['an unknown type', '{"type":"shout","text":"hi"}', 'unknown-type'],
    ['text of the wrong type', '{"type":"say","text":42}', 'bad-text'],
    ['empty text', '{"type":"say","text":"   "}', 'bad-text'],
    ['text with control characters', JSON.stringify({ type: 'say', text: 'a\u0000b' }), 'bad-text'],
    ['text with a lone surrogate', JSON.stringify({ type: 'say', text: 'a\ud800b' }), 'bad-text'],
    ['text over the limit', JSON.stringify({ type: 'say', text: 'x'.repeat(Limits.text + 1) }), 'text-too-long'],
    ['a name of the wrong type', '{"type":"join","room":"lobby","name":["alice"]}', 'bad-name'],
    ['a name over the limit', JSON.stringify({ type: 'join', room: 'lobby', name: 'n'.repeat(Limits.name + 1) }), 'bad-name'],
    ['a name with a line break', JSON.stringify({ type: 'join', room: 'lobby', name: 'al\nice' }), 'bad-name'],
    ['an empty name', '{"type":"join","room":"lobby","name":" "}', 'bad-name'],
    ['a room that does not match the pattern', '{"type":"join","room":"Lobby!","name":"alice"}', 'bad-room'],
    ['a room of the wrong type', '{"type":"join","room":7,"name":"alice"}', 'bad-room'],
  ])('answers %s with an error message and keeps the connection', async (_what, raw, code) => {
    const alice = await joined();
    alice.ws.send(raw);
    const error = await nextOf(alice.ws, 'error');
    expect(error).toMatchObject({ type: 'error', code });
    expect(error.message).not.toBe('');
    await say(alice, 'still here');
  });

  it('accepts text of exactly the limit, and names of exactly the limit', async () => {
    const alice = await joined();
    await say(alice, 'x'.repeat(Limits.text));
    const name = 'n'.repeat(Limits.name);
    sendJson(alice.ws, { type: 'join', room: 'lobby', name });
    expect((await nextOf(alice.ws, 'joined')).name).toBe(name);
  });

  it('refuses messages before a join, and binary messages', async () => {
    const chat = await start({ maxStrikes: 100 });
    const ws = await open(chat);
    sendJson(ws, { type: 'say', text: 'anyone?' });
    expect(await nextOf(ws, 'error')).toMatchObject({ code: 'not-joined' });
    ws.send(Buffer.from('{"type":"say","text":"hi"}'), true);
    expect(await nextOf(ws, 'error')).toMatchObject({ code: 'binary-not-supported' });
  });

  it('closes with 1009 a message over maxPayload', async () => {
    const alice = await joined({ maxPayload: 16 * 1024 });
    alice.ws.send(JSON.stringify({ type: 'say', text: 'x'.repeat(17 * 1024) }));
    const info = await alice.ws.closed;
    expect(info.code).toBe(1009);
  });

  it('closes with 1007 a text message that is not UTF-8', async () => {
    const alice = await joined();
    alice.ws.sendFrame(true, Opcode.Text, Buffer.from([0x7b, 0xff, 0x7d]));
    expect((await alice.ws.closed).code).toBe(1007);
  });

  it('closes with 1008 a connection that keeps sending invalid messages', async () => {
    const chat = await start({ maxStrikes: 3 });
    const alice = await join(chat, 'lobby', 'alice');
    for (let i = 0; i < 3; i++) alice.ws.send('not json');
    for (let i = 0; i < 3; i++) expect(await nextOf(alice.ws, 'error')).toMatchObject({ code: 'bad-json' });
    const info = await alice.ws.closed;
    expect(info).toMatchObject({ code: 1008, reason: 'too many invalid messages' });
  });

  it('refuses messages past the rate limit', async () => {
    // A refill this slow cannot add a token while the test runs.
    const chat = await start({ rateLimit: { messages: 3, per: 3600 }, maxStrikes: 100 });
    const ws = await open(chat);
    sendJson(ws, { type: 'join', room: 'lobby', name: 'alice' });
    await nextOf(ws, 'joined');
    sendJson(ws, { type: 'say', text: 'one' });
    sendJson(ws, { type: 'say', text: 'two' });
    sendJson(ws, { type: 'say', text: 'three' });
    // Core drops the third as it arrives and the refusal goes out then, so it may come before the
    // room's copies of the first two; those keep their order.
    const answers = [await next(ws), await next(ws), await next(ws)];
    expect(answers.filter((m) => m.type === 'message').map((m) => m.text)).toEqual(['one', 'two']);
    expect(answers.filter((m) => m.type === 'error')).toEqual([expect.objectContaining({ code: 'rate-limited' })]);
  });

  it('closes a connection that keeps sending past the rate limit with 1008, as for other refusals', async () => {
    const chat = await start({ rateLimit: { messages: 1, per: 3600 }, maxStrikes: 3 });
    const ws = await open(chat);
    for (let i = 0; i < 4; i++) sendJson(ws, { type: 'join', room: 'lobby', name: 'alice' });
    const errors: unknown[] = [];
    for await (const msg of ws) {
      const parsed = JSON.parse(msg.data as string) as { type: string; code?: string };
      if (parsed.type === 'error') errors.push(parsed.code);
    }
    expect(errors).toEqual(['rate-limited', 'rate-limited', 'rate-limited']);
    const info = await ws.closed;
    expect(info).toMatchObject({ code: 1008, reason: 'too many invalid messages' });
  });
});

describe('robustness and operations', () => {
  /** Deterministic junk: the same sequence on every run, so a failure can be replayed. */
  function* junk(count: number): Generator<string | Buffer> {
    let seed = 0x2f6fed;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const values: unknown[] = [null, true, 0, -1, 1e308, '', 'x'.repeat(40), [], {}, { type: 'say' }, ['join'], '\u2028', '#', 'lobby'];
    for (let i = 0; i < count; i++) {
      switch (rand(4)) {
        case 0:
          yield Buffer.from(Array.from({ length: rand(64) }, () => rand(256)));
          break;
        case 1:
          yield JSON.stringify({
            type: values[rand(values.length)],
            room: values[rand(values.length)],
            name: values[rand(values.length)],
            text: values[rand(values.length)],
          });
          break;
        case 2:
          yield JSON.stringify({
            type: rand(2) ? 'join' : 'say',
            room: values[rand(values.length)],
            name: values[rand(values.length)],
            text: values[rand(values.length)],
          });
          break;
        default:
          yield `{"type":"say","text":"${'y'.repeat(rand(50))}${rand(2) ? '"}' : ''}`;
      }
    }
  }

  it('keeps serving others while clients send garbage, broken frames and broken handshakes', async () => {
    const chat = await start({ maxStrikes: 1000, rateLimit: { messages: 1000 } });
    const alice = await join(chat, 'lobby', 'alice');
    const bob = await join(chat, 'lobby', 'bob');
    await nextOf(alice.ws, 'presence');

    // Junk that is valid WebSocket framing: every message gets an answer, none kills the server.
    const fuzzer = await open(chat);
    let sent = 0;
    for (const item of junk(300)) {
      fuzzer.send(item);
      sent++;
    }
    let answers = 0;
    while (answers < sent) {
      const msg = await next(fuzzer);
      if (msg.type === 'error' || msg.type === 'joined' || msg.type === 'message') answers++;
    }
    expect(fuzzer.readyState).toBe(fuzzer.OPEN);

    // Bytes that are not WebSocket framing at all, after a valid handshake: core fails it (1002).
    const broken = await open(chat);
    broken.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02]));
    expect((await broken.closed).code).toBe(1002);

    // A broken handshake (the key is not 16 bytes of base64).
    const raw = connectTcp(chat.port, '127.0.0.1');
    raw.end(
      'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: nope\r\n\r\n',
    );
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      raw.on('data', (d: Buffer) => (text += d.toString('latin1')));
      raw.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);

    await say(alice, 'still standing?');
    expect(await nextOf(bob.ws, 'message')).toMatchObject({ name: 'alice', text: 'still standing?' });
  });

  it("kick() closes that name's connections with 4001 and the reason, and the room hears it left", async () => {
    const chat = await start();
    const alice = await join(chat, 'lobby', 'alice');
    const bob = await join(chat, 'lobby', 'bob');
    await nextOf(alice.ws, 'presence');

    expect(chat.kick('bob', 'be nice')).toBe(1);
    expect(await bob.ws.closed).toMatchObject({ code: 4001, reason: 'be nice' });
    expect(await nextOf(alice.ws, 'presence')).toMatchObject({ event: 'leave', name: 'bob' });
    expect(chat.kick('nobody')).toBe(0);
  });

  it('closes every connection with 1001 on close()', async () => {
    const chat = await createChatServer({ log: () => {} });
    const alice = await joinChat(chat, 'lobby', 'alice');
    await chat.close();
    expect(await alice.ws.closed).toMatchObject({ code: 1001, reason: 'server shutting down' });
  });

  it('serves the page over HTTP and answers a plain GET on /chat with 426', async () => {
    const chat = await start();
    const page = await fetch(chat.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<script type="module" src="chat.js">');
    const script = await fetch(new URL('chat.js', chat.url));
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const plain = await fetch(new URL('chat', chat.url));
    expect(plain.status).toBe(426);
  });

  it("serves the router's WebSocket counters as JSON at GET /stats, for the page's panel", async () => {
    const chat = await start();
    const alice = await join(chat, 'lobby', 'alice');
    await join(chat, 'lobby', 'bob');
    await nextOf(alice.ws, 'presence'); // bob
    await say(alice, 'hello');
    expect((await fetch(new URL('chat', chat.url))).status).toBe(426);

    const res = await fetch(new URL('stats', chat.url));
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const served = await res.json();
    expect(served).toEqual(JSON.parse(JSON.stringify(chat.router.stats())));
    expect(served).toMatchObject({ open: 2, opened: 2, closed: 0, refused: 1, refusedByStatus: { 426: 1 } });
    // join, join, say in; joined, joined, bob's presence, the message to both out.
    expect(served).toMatchObject({ messagesIn: 3, messagesOut: 5 });
  });

  it('echoes text and binary on /echo', async () => {
    const chat = await start();
    const ws = await open(chat, '/echo');
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
    ws.send(bytes);
    expect(await ws.receive(5)).toEqual({ data: bytes, binary: true, fin: true });
    ws.send('text');
    expect(await ws.receive(5)).toEqual({ data: 'text', binary: false, fin: true });
  });
});
