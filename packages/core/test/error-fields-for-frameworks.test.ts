import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { connect, ErrorCode, HandshakeResponseError, WebSocketError } from '@wsup/core';

describe('WebSocketError fields that frameworks read', () => {
  it('carries statusCode, the same as status, for error handlers that read that name', () => {
    const refusal = new WebSocketError(ErrorCode.NotUpgrade, 'Expected an Upgrade: websocket request', { status: 426 });
    expect(refusal.statusCode).toBe(426);
    expect(refusal.status).toBe(426);
    expect(new WebSocketError(ErrorCode.NotOpen, 'not open').statusCode).toBeUndefined();
  });

  it('exposes the message of a 4xx error only, as http-errors does', () => {
    expect(new WebSocketError(ErrorCode.BadKey, 'bad key', { status: 400 }).expose).toBe(true);
    expect(new WebSocketError(ErrorCode.OriginForbidden, 'origin', { status: 403 }).expose).toBe(true);
    expect(new WebSocketError(ErrorCode.SetupMissing, 'setup', { status: 500 }).expose).toBe(false);
    expect(new WebSocketError(ErrorCode.TooManyConnections, 'busy', { status: 503 }).expose).toBe(false);
    expect(new WebSocketError(ErrorCode.NotOpen, 'not open').expose).toBe(false);
  });

  it('has a stable code for a skipped adapter setup step', () => {
    expect(ErrorCode.SetupMissing).toBe('ERR_SETUP_MISSING');
  });

  it('gives a failed connect() no statusCode to relay: an upstream 401 is not this server’s answer', async () => {
    const server = createServer((_req, res) => res.writeHead(401).end('who are you?'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const err = await connect(`ws://127.0.0.1:${port}/`).catch((e: unknown) => e);
    server.close();
    expect(err).toBeInstanceOf(HandshakeResponseError);
    expect((err as HandshakeResponseError).status).toBe(401);
    expect((err as HandshakeResponseError).statusCode).toBeUndefined();
    expect((err as HandshakeResponseError).expose).toBe(false);
  });
});
