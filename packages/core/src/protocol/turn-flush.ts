/**
 * The flush at the end of a turn of the event loop, shared by every connection of the process:
 * what was queued during the turn leaves in one `setImmediate`, each connection's frames in one
 * write. Senders flush first, then the runs of published frames (a member that left its run has
 * queued the run among its own frames, written in the first pass).
 */

/** Something written at the end of the turn. */
export interface TurnWriter {
  flush(): void;
}

let writers: TurnWriter[] = [];
let runs: TurnWriter[] = [];
let scheduled = false;
let afterWritersHook: (() => void) | undefined;

/** Flushes `writer` at the end of this turn (queue it once per turn). */
export function writeAtTurnEnd(writer: TurnWriter): void {
  writers.push(writer);
  schedule();
}

/** Flushes `run` at the end of this turn, after the writers (queue it once per turn). */
export function writeRunAtTurnEnd(run: TurnWriter): void {
  runs.push(run);
  schedule();
}

/** Runs `hook` after every end-of-turn flush (one hook: the sender's). */
export function afterWriters(hook: () => void): void {
  afterWritersHook = hook;
}

function schedule(): void {
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushTurn);
  }
}

function flushTurn(): void {
  scheduled = false;
  // Whatever is queued during the flush (from 'drain' handlers, say) is flushed in the next round.
  const batch = writers;
  writers = [];
  for (let i = 0; i < batch.length; i++) batch[i]!.flush();
  const due = runs;
  runs = [];
  for (let i = 0; i < due.length; i++) due[i]!.flush();
  afterWritersHook?.();
}
