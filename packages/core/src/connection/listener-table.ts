/**
 * The table of a WebSocket's event listeners, made so that an idle connection pays little for it.
 *
 * EventEmitter keeps its listeners in `_events`, an object without a prototype: V8 makes such an
 * object (`{ __proto__: null }`) in dictionary mode, 184 bytes before it holds anything. Objects
 * made by a constructor whose prototype has no prototype are in fast mode and hold a few listeners
 * in a few dozen bytes, while a lookup of `toString` (or any other name) still finds nothing
 * inherited. EventEmitter reads and writes the table only by event name, so it works the same.
 *
 * The receive path reads the table too, to call a sole `message` listener without emit()'s
 * overhead where that changes nothing ({@link emitToListeners}).
 */
import { EventEmitter } from 'node:events';

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

/**
 * The symbol under which an emitter keeps its `captureRejections` setting (Node sets it on every
 * emitter it constructs), or undefined if this Node keeps it some other way.
 */
const kCapture = Object.getOwnPropertySymbols(new EventEmitter()).find((s) => s.description === 'kCapture');

const emitOriginal = EventEmitter.prototype.emit;

/** EventEmitter's own statics: `usingDomains` is set once the domain module has replaced emit(). */
const emitters = EventEmitter as unknown as { readonly usingDomains?: boolean };

type Emitter = { emit(event: string, arg: unknown): boolean; _events?: Record<string, unknown> } & Record<symbol, unknown>;

/**
 * `emitter.emit(event, arg)`, calling a sole listener directly where that is exactly what emit()
 * would do: emit() is not replaced (by a subclass, a tracer, or the domain module) and the emitter
 * does not capture rejections, so emit() would only call the listener and ignore what it returns.
 * On the path every received message takes, that saves emit()'s rest-argument array, its `apply`
 * and its checks, and with no listener (a `for await` reader) the call itself. Returns whether
 * anything listened, as emit() does.
 */
export function emitToListeners(emitter: object, event: string, arg: unknown): boolean {
  const e = emitter as Emitter;
  const events = e._events;
  if (events === undefined) return e.emit(event, arg);
  const listener = events[event];
  if (listener === undefined) return false;
  if (
    typeof listener === 'function' &&
    e.emit === emitOriginal &&
    emitters.usingDomains !== true &&
    kCapture !== undefined &&
    e[kCapture] === false
  ) {
    listener.call(emitter, arg);
    return true;
  }
  return e.emit(event, arg);
}
