/**
 * The process-wide memory budget: every byte a peer can make wsup hold (send queues, unread
 * messages, partial and inflating messages) is bounded per connection by `maxBuffered`,
 * `receiveHighWaterMark` and `maxPayload`, but many connections at their bounds can still take a
 * process to out-of-memory (200 slow readers × 64 MiB). This bounds their sum: a few times a
 * second it adds up what live connections hold and, above the limit, closes the ones holding the
 * most (1013, try again later) until the total is back under nine tenths of it, so the others
 * keep working.
 *
 * It asks only the connections that may hold something. A connection holds bytes only after a
 * read that left a frame or message partly received, a message queued unread, or a write the
 * socket could not hand to the kernel at once, and each of those marks it ({@link mayHold}); the
 * check forgets it once it holds nothing. An idle connection costs the check nothing, and with
 * none holding anything the timer stops: walking every connection four times a second cost a
 * server with 19,000 idle connections 2% of a core (0.2 µs per connection and check).
 */
import { getHeapStatistics } from 'node:v8';
import { warn, WarningCode } from '../diagnostics.js';
import { ErrorCode, rangeError, WebSocketError } from '../errors.js';
import { CloseCode } from '../protocol/constants.js';

/** A connection as the budget sees it. */
export interface BudgetMember {
  /** Bytes it holds now. */
  heldBytes(): number;
  /** Closes it for the budget, releasing what it holds at once. */
  shed(): void;
}

/** The budget's limit and what it counts, for monitoring. */
export interface MemoryBudgetStatus {
  /** Bytes all connections together may hold. */
  limit: number;
  /** Bytes they hold now. */
  held: number;
  /** Live connections counted. */
  connections: number;
  /** Connections closed for the budget since the process started. */
  shed: number;
}

/** How often the budget adds up what connections hold. */
const CHECK_INTERVAL_MS = 250;

/**
 * Half the V8 heap limit (`--max-old-space-size`; about 2 GiB by default on 64-bit Node 20 with
 * 16 GiB or more of memory): what the operator sized the process for. Buffers live outside the
 * heap, so this leaves the heap its whole limit and the process room to answer while shedding.
 */
export const DEFAULT_MEMORY_BUDGET = Math.floor(getHeapStatistics().heap_size_limit / 2);

const members = new Set<BudgetMember>();
/** @internal The live connections (every WebSocket from its making to its close), for the statistics. */
export const budgetMembers: ReadonlySet<BudgetMember> = members;
/** The live connections that may hold bytes: marked by {@link mayHold}, forgotten by the check that finds them holding none. */
const candidates = new Set<BudgetMember>();
let limit = DEFAULT_MEMORY_BUDGET;
let shedCount = 0;
let timer: NodeJS.Timeout | undefined;

/** @internal A connection opened: count what it holds until it {@link leave}s. */
export function join(member: BudgetMember): void {
  members.add(member);
}

/**
 * @internal A connection started to hold bytes, or may have: the next checks ask it what it
 * holds, until one finds nothing.
 */
export function mayHold(member: BudgetMember): void {
  candidates.add(member);
  if (timer === undefined) {
    timer = setInterval(check, CHECK_INTERVAL_MS);
    timer.unref();
  }
}

/** @internal The connection closed. */
export function leave(member: BudgetMember): void {
  members.delete(member);
  if (candidates.delete(member) && candidates.size === 0) stopChecking();
}

function stopChecking(): void {
  if (timer === undefined) return;
  clearInterval(timer);
  timer = undefined;
}

/**
 * Sets the process-wide memory budget: the bytes all WebSocket connections together may hold
 * in send queues, unread messages and messages still arriving. Above it, the connections
 * holding the most are closed with 1013 (`ERR_MEMORY_BUDGET`). Default: half the V8 heap limit.
 * `Infinity` turns it off.
 */
export function setMemoryBudget(bytes: number): void {
  if (typeof bytes !== 'number' || Number.isNaN(bytes) || bytes <= 0) {
    throw rangeError(`the memory budget must be a positive number of bytes or Infinity, got ${String(bytes)}`);
  }
  limit = bytes;
}

/** The process-wide memory budget and what connections hold now. */
export function memoryBudget(): MemoryBudgetStatus {
  let held = 0;
  for (const m of members) held += m.heldBytes();
  return { limit, held, connections: members.size, shed: shedCount };
}

/** @internal The error a connection closed for the budget ends with. */
export function overBudget(): WebSocketError {
  return new WebSocketError(
    ErrorCode.MemoryBudget,
    `the process holds more than its memory budget (${limit} bytes) and this connection held the most`,
    {
      closeCode: CloseCode.TryAgainLater,
    },
  );
}

/** @internal Adds up what connections hold and sheds the largest while over the limit. */
export function check(): void {
  let total = 0;
  const holding: [member: BudgetMember, bytes: number][] = [];
  for (const m of candidates) {
    // A connection marked after it left (a deferred read resumed after the close, say) must not
    // be kept alive here: what a closed connection still holds is the application's to drop.
    const bytes = members.has(m) ? m.heldBytes() : 0;
    if (bytes === 0) {
      // Deleting the current entry does not disturb a Set's iteration.
      candidates.delete(m);
      continue;
    }
    total += bytes;
    holding.push([m, bytes]);
  }
  if (candidates.size === 0) stopChecking();
  if (total <= limit) return;
  holding.sort((a, b) => b[1] - a[1]);
  const target = limit * 0.9;
  const held = total;
  let closed = 0;
  for (const [m, bytes] of holding) {
    if (total <= target) break;
    total -= bytes;
    closed++;
    m.shed();
  }
  shedCount += closed;
  // Each connection learns why it closed, but nothing else would tell the operator that the
  // process is sized too small for its load.
  warn(
    WarningCode.MemoryBudgetExceeded,
    `WebSocket connections held ${held} bytes, over the memory budget of ${limit}: closed ${closed === 1 ? 'the one' : `the ${closed}`} holding the most (1013); raise the budget with setMemoryBudget() or give the process more memory`,
  );
}
