/**
 * The broker's errors reach the diagnostics channels: each is published on `wsup:broker:error`
 * as `'redis'` (a dropped message with its topic), and an outage is a `WSUP_BROKER_UNAVAILABLE`
 * warning: delivery goes on for this process's subscribers only.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { createServer } from 'node:net';
import { expect, it } from 'vitest';
import { channels, DroppedMessageError, Hub, type BrokerErrorMessage, type WarningMessage } from '@wsup/core';
import { RedisBroker } from '@wsup/redis';
import { eventually } from './helpers/eventually.js';

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

it('publishes its errors as redis, an outage with a warning, while Redis cannot be reached', async () => {
  const errors: BrokerErrorMessage[] = [];
  const warnings: WarningMessage[] = [];
  const onError = (m: unknown) => void errors.push(m as BrokerErrorMessage);
  const onWarning = (m: unknown) => void warnings.push(m as WarningMessage);
  diagnosticsChannel.subscribe(channels.brokerError, onError);
  diagnosticsChannel.subscribe(channels.warning, onWarning);
  const port = await closedPort();
  const broker = new RedisBroker({
    connection: { host: '127.0.0.1', port, retryStrategy: () => 50 },
    maxBufferedMessages: 5,
    maxBufferedBytes: 1000,
  });
  const hub = new Hub({ broker });
  hub.on('error', () => {});
  try {
    await eventually(() => errors.length).toBe(1);
    expect(errors[0]).toMatchObject({ broker: 'redis', error: { code: 'ERR_BROKER_UNAVAILABLE' } });
    expect(warnings).toEqual([
      {
        code: 'WSUP_BROKER_UNAVAILABLE',
        message: expect.stringMatching(/^cannot reach Redis\b.*reach only its own subscribers until Redis is back/),
      },
    ]);
    // Past the buffer's 5 messages, a publish is dropped: published with its topic.
    for (let i = 0; i < 6; i++) hub.publish('room', `m${i}`);
    expect(errors).toHaveLength(2);
    expect(errors[1]!.error).toBeInstanceOf(DroppedMessageError);
    expect(errors[1]).toMatchObject({ broker: 'redis', topic: 'room' });
    expect(warnings).toHaveLength(1);
  } finally {
    diagnosticsChannel.unsubscribe(channels.brokerError, onError);
    diagnosticsChannel.unsubscribe(channels.warning, onWarning);
    await hub.close();
  }
});
