/**
 * A Broker in front of another (the chat's RedisBroker) that lets the chat hold a topic
 * subscribed, and see what other processes publish on it, before any connection subscribes.
 *
 * Why: a joiner must get its `joined` snapshot before any live message of its room, and must miss
 * nothing published while the snapshot is read from Redis. So the chat holds the room's topic
 * first (this process then receives it), records what arrives while it reads the snapshot, and
 * only then, in one turn, sends the snapshot, the recorded messages it lacks, and subscribes the
 * connection. The hub cannot do this alone: it delivers to subscribed connections only.
 */
import { ErrorCode, WebSocketError, type Broker } from '@wsup/core';

type Deliver = (topic: string, payload: Buffer, binary: boolean) => void;
type ReportError = (err: WebSocketError) => void;
export type TapListener = (payload: Buffer, binary: boolean) => void;

export interface BrokerTapOptions {
  /**
   * Awaited after a new subscription when the inner broker's `subscribe()` returns no promise to
   * say when it is in force (RedisBroker today): a round trip to the same Redis on another
   * connection, sent after the SUBSCRIBE, which Redis then has read too on any single host.
   */
  barrier?: () => Promise<unknown>;
}

export class BrokerTap implements Broker {
  /** Topics the hub has local subscribers for. */
  private readonly hubTopics = new Set<string>();
  private readonly listeners = new Map<string, Set<TapListener>>();
  /** Per topic subscribed in the inner broker: settles once that subscription is in force. */
  private readonly subscribed = new Map<string, Promise<void>>();
  private report: ReportError | undefined;

  constructor(
    private readonly inner: Broker,
    private readonly options: BrokerTapOptions = {},
  ) {}

  attach(nodeId: string, deliver: Deliver, onError: ReportError): void {
    this.report = onError;
    this.inner.attach(
      nodeId,
      (topic, payload, binary) => {
        const listeners = this.listeners.get(topic);
        if (listeners) for (const listener of listeners) listener(payload, binary);
        deliver(topic, payload, binary);
      },
      onError,
    );
  }

  subscribe(topic: string): Promise<void> {
    this.hubTopics.add(topic);
    return this.start(topic);
  }

  unsubscribe(topic: string): void {
    this.hubTopics.delete(topic);
    this.stopIfUnused(topic);
  }

  publish(topic: string, payload: Buffer, binary: boolean): void | Promise<void> {
    return this.inner.publish(topic, payload, binary);
  }

  close(): void | Promise<void> {
    return this.inner.close();
  }

  /**
   * Keeps `topic` subscribed and passes `listener` every message other processes publish on it,
   * until the returned function is called. Resolves once the subscription is in force (see
   * {@link BrokerTapOptions.barrier}).
   */
  async hold(topic: string, listener: TapListener): Promise<() => void> {
    let listeners = this.listeners.get(topic);
    if (!listeners) this.listeners.set(topic, (listeners = new Set()));
    listeners.add(listener);
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      listeners.delete(listener);
      if (listeners.size === 0 && this.listeners.get(topic) === listeners) this.listeners.delete(topic);
      this.stopIfUnused(topic);
    };
    try {
      await this.start(topic);
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  /** Subscribes in the inner broker unless already done; never rejects for a refused subscription (that is reported). */
  private start(topic: string): Promise<void> {
    let ready = this.subscribed.get(topic);
    if (ready) return ready;
    let reply: void | Promise<void>;
    try {
      reply = this.inner.subscribe(topic);
    } catch (err) {
      // An invalid topic: nothing was subscribed, so nothing to remember.
      return Promise.reject(err);
    }
    const settled = reply instanceof Promise ? reply : this.options.barrier?.();
    ready = Promise.resolve(settled).then(
      () => undefined,
      (err: unknown) => this.fail(err),
    );
    this.subscribed.set(topic, ready);
    return ready;
  }

  private stopIfUnused(topic: string): void {
    if (this.hubTopics.has(topic) || this.listeners.has(topic) || !this.subscribed.delete(topic)) return;
    try {
      const reply = this.inner.unsubscribe(topic);
      if (reply instanceof Promise) reply.catch((err: unknown) => this.fail(err));
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    const e =
      err instanceof WebSocketError
        ? err
        : new WebSocketError(ErrorCode.BrokerUnavailable, `broker failed: ${err instanceof Error ? err.message : String(err)}`, {
            cause: err,
          });
    this.report?.(e);
  }
}
