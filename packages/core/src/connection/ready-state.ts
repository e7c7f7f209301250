/** Connection states, numerically identical to the browser `WebSocket.readyState`. */
export const ReadyState = {
  Connecting: 0,
  Open: 1,
  Closing: 2,
  Closed: 3,
} as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** Puts `CONNECTING`, `OPEN`, `CLOSING` and `CLOSED` on a prototype, as browsers and ws do (as fields they would cost every connection 32 bytes). */
export function defineReadyStateConstants(prototype: object): void {
  const values = { CONNECTING: ReadyState.Connecting, OPEN: ReadyState.Open, CLOSING: ReadyState.Closing, CLOSED: ReadyState.Closed };
  for (const [name, value] of Object.entries(values)) Object.defineProperty(prototype, name, { value, enumerable: true });
}
