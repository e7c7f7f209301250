/**
 * sendJson, receiveJson and jsonMessages: JSON text messages, typed by a guard when one is given,
 * with typed errors for what is not JSON (the connection stays open: the application's message,
 * not a protocol violation). In memory (injectUpgrade over duplexPair): JSON is all this tests.
 */
import fc from 'fast-check';
import { expect, expectTypeOf, it } from 'vitest';
import { ErrorCode, JsonMessageError, jsonMessages, receiveJson, sendJson, type UpgradeOptions, WebSocketError } from '@wsup/core';
import { inMemoryPair } from '../helpers/pair.js';

/** A client WebSocket and the server's end of the same connection, in memory. */
const pair = (options?: UpgradeOptions) => inMemoryPair(options, { compress: true });

interface Chat {
  room: string;
  text: string;
}
const isChat = (v: unknown): v is Chat =>
  typeof v === 'object' && v !== null && typeof (v as Chat).room === 'string' && typeof (v as Chat).text === 'string';

/** JSON.stringify writes -0 as 0: what a JSON value becomes after a trip through JSON text. */
const throughJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

it('any JSON value round-trips: sendJson, receiveJson on the server, sendJson back, receiveJson', async () => {
  const { client, server } = await pair({ compress: { threshold: 0 } });
  void (async () => {
    for await (const value of jsonMessages(server)) sendJson(server, value);
  })();
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ stringUnit: 'binary' }), async (value) => {
      sendJson(client, value);
      expect(await receiveJson(client)).toEqual(throughJson(value));
    }),
  );
  // Lone surrogates: JSON.stringify escapes them, so the text is valid UTF-8 and they come back.
  sendJson(client, { s: '\ud800x\udfff' });
  expect(await receiveJson(client)).toEqual({ s: '\ud800x\udfff' });
  await client.close();
});

it('sendJson sends a text message, and refuses what JSON cannot encode without sending anything', async () => {
  const { client, server } = await pair();
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  for (const bad of [10n, { n: 1n }, cycle, undefined, () => 1, Symbol('s')]) {
    expect(() => sendJson(server, bad)).toThrow(expect.objectContaining({ code: ErrorCode.JsonUnencodable, name: 'WebSocketError' }));
  }
  expect(sendJson(server, { at: new Date(0), nan: Number.NaN, skip: undefined })).toBe(true);
  expect(await client.receive()).toEqual({ binary: false, fin: true, data: '{"at":"1970-01-01T00:00:00.000Z","nan":null}' });
  await client.close();
});

it('without a guard receiveJson resolves unknown; with one, the guarded type or ERR_JSON_REJECTED', async () => {
  const { client, server } = await pair();
  client.send('{"room":"lobby","text":"hi"}');
  client.send('{"room":"lobby"}');
  client.send('[1,2]');
  const chat = await receiveJson(server, isChat);
  expectTypeOf(chat).toEqualTypeOf<Chat | undefined>();
  expect(chat).toEqual({ room: 'lobby', text: 'hi' });
  const refused = await receiveJson(server, isChat).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(JsonMessageError);
  expect(refused).toBeInstanceOf(WebSocketError);
  expect(refused).toMatchObject({ code: ErrorCode.JsonRejected, received: { binary: false, data: '{"room":"lobby"}' } });
  expect((refused as Error).message).toContain('isChat');
  const anything = await receiveJson(server);
  expectTypeOf(anything).toEqualTypeOf<unknown>();
  expect(anything).toEqual([1, 2]);
  await client.close();
});

it('malformed JSON and binary messages reject with typed errors holding the message; the connection stays open', async () => {
  const { client, server } = await pair();
  client.send('{"unterminated": ');
  client.send(Buffer.from('{"a":1}'));
  client.send('\ufeff{"bom":1}');
  client.send('{"a":2}');
  const syntax = await receiveJson(server).catch((e: unknown) => e);
  expect(syntax).toMatchObject({ code: ErrorCode.JsonSyntax, received: { data: '{"unterminated": ' } });
  expect((syntax as Error).cause).toBeInstanceOf(SyntaxError);
  const binary = await receiveJson(server).catch((e: unknown) => e);
  expect(binary).toMatchObject({ code: ErrorCode.JsonBinary, received: { binary: true } });
  // RFC 8259 §8.1: no byte order mark in JSON text sent over a network.
  await expect(receiveJson(server)).rejects.toMatchObject({ code: ErrorCode.JsonSyntax });
  expect(await receiveJson(server)).toEqual({ a: 2 });
  expect(server.readyState).toBe(server.OPEN);
  await client.close();
});

it('receiveJson resolves undefined once the connection is closed and everything was read, and honours a timeout', async () => {
  const { client, server } = await pair();
  await expect(receiveJson(server, undefined, 0.01)).rejects.toMatchObject({ code: ErrorCode.Timeout });
  sendJson(client, null);
  // The server answers the close once it has read what came before it.
  const closed = client.close();
  expect(await receiveJson(server)).toBeNull();
  expect(await receiveJson(server, isChat)).toBeUndefined();
  expect(await closed).toMatchObject({ code: 1000, wasClean: true });
});

it('jsonMessages yields every value until the close; a bad message ends the loop, and a new one reads on', async () => {
  const { client, server } = await pair();
  for (const text of ['first', 'second']) sendJson(client, { room: 'r', text });
  client.send('not json');
  sendJson(client, { room: 'r', text: 'third' });
  const got: string[] = [];
  const err = await (async () => {
    for await (const chat of jsonMessages(server, isChat)) {
      expectTypeOf(chat).toEqualTypeOf<Chat>();
      got.push(chat.text);
    }
  })().catch((e: unknown) => e);
  expect(err).toMatchObject({ code: ErrorCode.JsonSyntax, received: { data: 'not json' } });
  expect(got).toEqual(['first', 'second']);
  const closed = client.close();
  for await (const chat of jsonMessages(server, isChat)) got.push(chat.text);
  expect(got).toEqual(['first', 'second', 'third']);
  await closed;
});

it('in frame mode, the frames of a message are joined before parsing', async () => {
  const { client, server } = await pair({ frames: true });
  const text = JSON.stringify({ room: 'r', text: 'é'.repeat(10) });
  const bytes = Buffer.from(text);
  // Split inside a two-byte character: the frames are not valid UTF-8 on their own.
  client.sendFrame(false, 1, bytes.subarray(0, 20));
  client.sendFrame(false, 0, bytes.subarray(20, 21));
  client.sendFrame(true, 0, bytes.subarray(21));
  expect(await receiveJson(server, isChat)).toEqual(JSON.parse(text));
  await client.close();
});
