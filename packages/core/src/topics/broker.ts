import type { WebSocketError } from '../errors.js';

/** Carries published messages between hubs (processes, machines). */
export interface Broker {
  /**
   * What the broker is (`'redis'`, `'nats'`), for the `broker` of its errors on the
   * `wsup:broker:error` diagnostics channel. Default `'broker'`.
   */
  readonly name?: string;
  /**
   * Connects a hub to the broker. `deliver` must be called for every message published on a topic
   * the hub subscribed to by another hub (never the hub's own messages), in each publisher's order.
   */
  attach(nodeId: string, deliver: (topic: string, payload: Buffer, binary: boolean) => void, onError: (err: WebSocketError) => void): void;
  /** The hub has its first local subscriber for `topic`. */
  subscribe(topic: string): void | Promise<void>;
  /** The hub's last local subscriber for `topic` left. */
  unsubscribe(topic: string): void | Promise<void>;
  /**
   * Sends a message to the other hubs. May throw (or reject with) a `WebSocketError` when the
   * broker cannot accept it (`ERR_BROKER_UNAVAILABLE`); the hub reports that as an `error` event.
   */
  publish(topic: string, payload: Buffer, binary: boolean): void | Promise<void>;
  /** Detaches the hub. */
  close(): void | Promise<void>;
}

/**
 * In-process message bus: hubs whose brokers come from the same bus reach each other, like
 * processes sharing a Redis server. A hub created without a broker gets a bus of its own, i.e.
 * purely local delivery; sharing one is mostly useful in tests.
 */
export class InMemoryBus {
  private readonly members = new Set<MemoryBroker>();

  /** A broker for one hub on this bus. */
  broker(): Broker {
    return new MemoryBroker(this.members);
  }
}

class MemoryBroker implements Broker {
  readonly name = 'memory';
  private deliver: ((topic: string, payload: Buffer, binary: boolean) => void) | undefined;
  private readonly topics = new Set<string>();

  constructor(private readonly members: Set<MemoryBroker>) {
    members.add(this);
  }

  attach(_nodeId: string, deliver: (topic: string, payload: Buffer, binary: boolean) => void): void {
    this.deliver = deliver;
  }

  subscribe(topic: string): void {
    this.topics.add(topic);
  }

  unsubscribe(topic: string): void {
    this.topics.delete(topic);
  }

  publish(topic: string, payload: Buffer, binary: boolean): void {
    for (const m of this.members) if (m !== this && m.topics.has(topic)) m.deliver?.(topic, payload, binary);
  }

  close(): void {
    this.members.delete(this);
  }
}
