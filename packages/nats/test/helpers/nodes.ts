/**
 * Hubs with NatsBrokers in this process, and subscribers that record what they get.
 */
import { Hub, type Publication, type Subscriber, type WebSocketError } from '@wsup/core';
import { NatsBroker, type NatsBrokerOptions } from '@wsup/nats';

/** A subscriber that records its messages: text as is, binary as `bin:<hex>`. */
export class Recorder implements Subscriber {
  readonly messages: string[] = [];
  deliver(p: Publication): boolean {
    this.messages.push(p.binary ? `bin:${p.payload.toString('hex')}` : p.text);
    return true;
  }
}

export interface TestNode {
  hub: Hub;
  broker: NatsBroker;
  /** What the hub reported as 'error'. */
  errors: WebSocketError[];
  /** A new subscriber of `topics` on this hub. */
  sub(...topics: string[]): Recorder;
}

/** Fast reconnects, so that tests of outages do not wait the client's default 2 s. */
export const FAST = { reconnectTimeWait: 100, reconnectJitter: 20 } as const;

export function node(servers: string | string[], options: NatsBrokerOptions = {}): TestNode {
  const broker = new NatsBroker({ servers, ...options, connection: { ...FAST, ...options.connection } });
  const hub = new Hub({ broker });
  const errors: WebSocketError[] = [];
  hub.on('error', (e) => errors.push(e));
  return {
    hub,
    broker,
    errors,
    sub(...topics) {
      const r = new Recorder();
      for (const t of topics) hub.subscribe(r, t);
      return r;
    },
  };
}

/** Resolves once `broker` is connected (at once if it is). */
export function connected(broker: NatsBroker): Promise<void> {
  return broker.connected ? Promise.resolve() : new Promise((resolve) => broker.once('connected', resolve));
}
