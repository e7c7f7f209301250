/**
 * Every error a broker reports to its hub is published on `wsup:broker:error`, named by the
 * broker and with the topic of a dropped message; an outage (an error of `brokerOutage`) is also a
 * warning, `WSUP_BROKER_UNAVAILABLE` on `wsup:warning` each time and a process warning once,
 * whether or not the hub has an `error` listener (delivery goes on, lessened, either way).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import {
  brokerOutage,
  channels,
  DroppedMessageError,
  Hub,
  resolveBrokerBuffer,
  WarningCode,
  type Broker,
  type BrokerErrorMessage,
  type WarningMessage,
  type WebSocketError,
} from '@wsup/core';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function listen<T>(name: string): T[] {
  const got: T[] = [];
  const onMessage = (m: unknown) => void got.push(m as T);
  diagnosticsChannel.subscribe(name, onMessage);
  cleanups.push(() => diagnosticsChannel.unsubscribe(name, onMessage));
  return got;
}

function processWarnings(type: string): (Error & { code?: string })[] {
  const got: (Error & { code?: string })[] = [];
  const onWarning = (w: Error & { code?: string }) => void (w.name === type && got.push(w));
  process.on('warning', onWarning);
  cleanups.push(() => process.off('warning', onWarning));
  return got;
}

/** A broker whose errors the test reports, and whose publish fails when told to. */
function testBroker(name?: string): Broker & { report(err: WebSocketError): void; failPublish: boolean } {
  let onError: ((err: WebSocketError) => void) | undefined;
  return {
    ...(name === undefined ? {} : { name }),
    failPublish: false,
    attach(_id, _deliver, report) {
      onError = report;
    },
    subscribe() {},
    unsubscribe() {},
    publish(this: { failPublish: boolean }) {
      if (this.failPublish) throw new Error('publish refused');
    },
    close() {},
    report(err) {
      onError!(err);
    },
  };
}

it('publishes each broker error with the broker and the topic, and warns of each outage, once as a process warning', async () => {
  const published = listen<BrokerErrorMessage>(channels.brokerError);
  const warned = listen<WarningMessage>(channels.warning);
  const wsupWarnings = processWarnings('WsupWarning');
  const broker = testBroker('test');
  const hub = new Hub({ broker });
  const hubErrors: WebSocketError[] = [];
  hub.on('error', (err) => hubErrors.push(err));

  const outage = brokerOutage(
    'TestServer',
    new Error('ECONNREFUSED'),
    resolveBrokerBuffer({ maxBufferedMessages: 10, maxBufferedBytes: 100 }),
  );
  const dropped = new DroppedMessageError('room', 1, 'a message to room did not go to the other nodes');
  broker.report(outage);
  broker.report(dropped);
  broker.report(brokerOutage('TestServer', undefined, resolveBrokerBuffer({})));
  broker.failPublish = true;
  hub.publish('room', 'hello');
  await turn();

  expect(published).toHaveLength(4);
  expect(published[0]).toEqual({ broker: 'test', error: outage });
  expect(published[1]).toEqual({ broker: 'test', error: dropped, topic: 'room' });
  expect(published[3]!.error.message).toContain('publish refused');
  expect(hubErrors).toEqual(published.map((m) => m.error));

  expect(warned.map((w) => w.code)).toEqual([WarningCode.BrokerUnavailable, WarningCode.BrokerUnavailable]);
  expect(warned[0]!.message).toBe(
    'cannot reach TestServer (ECONNREFUSED): messages published in this process reach only its own subscribers until TestServer is back (up to 10 messages or 100 bytes are kept for the other nodes meanwhile)',
  );
  expect(wsupWarnings.map((w) => [w.code, w.message])).toEqual([['WSUP_BROKER_UNAVAILABLE', warned[0]!.message]]);
  await hub.close();
});

it("names a broker without a name 'broker', and an outage with no error listener is one process warning, not two", async () => {
  const published = listen<BrokerErrorMessage>(channels.brokerError);
  const hubWarnings = processWarnings('WsupHubWarning');
  const broker = testBroker();
  const hub = new Hub({ broker });
  broker.report(brokerOutage('TestServer', undefined, resolveBrokerBuffer({})));
  await turn();
  expect(published.map((m) => m.broker)).toEqual(['broker']);
  // An outage is a WsupWarning of its own (once per process), never also a WsupHubWarning.
  expect(hubWarnings).toEqual([]);
  // Another failure nobody listens for is still the hub's warning.
  broker.report(new DroppedMessageError('room', 1, 'dropped'));
  await turn();
  expect(hubWarnings.map((w) => w.message)).toEqual([expect.stringContaining('dropped')]);
  await hub.close();
});
