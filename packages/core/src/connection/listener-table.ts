/**
 * The table of a WebSocket's event listeners, made so that an idle connection pays little for it.
 *
 * EventEmitter keeps its listeners in `_events`, an object without a prototype: V8 makes such an
 * object (`{ __proto__: null }`) in dictionary mode, 184 bytes before it holds anything. Objects
 * made by a constructor whose prototype has no prototype are in fast mode and hold a few listeners
 * in a few dozen bytes, while a lookup of `toString` (or any other name) still finds nothing
 * inherited. EventEmitter reads and writes the table only by event name, so it works the same.
 */
import type { EventEmitter } from 'node:events';

type Listener = (...args: never[]) => unknown;

// A plain function rather than a class: a class's prototype has a `constructor` property, which
// `emit('constructor')` would find.
function ListenerTable(this: Record<string, unknown>, newListener: Listener): void {
  this.newListener = newListener;
}
ListenerTable.prototype = Object.create(null) as object;

const Table = ListenerTable as unknown as new (newListener: Listener) => object;

/**
 * Gives a just-constructed emitter (no listeners yet) a fast-mode listener table holding one
 * `newListener` listener: what `emitter.on('newListener', listener)` would do, in less memory.
 */
export function startListenerTable(emitter: EventEmitter, newListener: Listener): void {
  const e = emitter as EventEmitter & { _events: object; _eventsCount: number };
  e._events = new Table(newListener);
  e._eventsCount = 1;
}

// The same, empty: for an emitter whose listeners are all gone.
function EmptyListenerTable(): void {}
EmptyListenerTable.prototype = Object.create(null) as object;

const EmptyTable = EmptyListenerTable as unknown as new () => object;

/**
 * Swaps the listener table of an emitter that has no listeners left for a fast-mode empty one:
 * EventEmitter gives an emitter whose last listener is removed a new `{ __proto__: null }` table
 * (184 bytes, as above), which an upgraded request's response, kept by a `for await` handler,
 * would hold for the connection's life.
 */
export function compactEmptyListenerTable(emitter: EventEmitter): void {
  const e = emitter as EventEmitter & { _events: object; _eventsCount: number };
  if (e._eventsCount === 0) e._events = new EmptyTable();
}
