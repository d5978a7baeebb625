// Long runs as iperf3 runs them: a progress line on stderr every second of wall time, and
// SIGINT / SIGTERM ending the run with its partial summary and exit status 130 / 143.
//   interruptible(body)      runs body(signal) with SIGINT/SIGTERM handlers that abort the signal;
//                            resolves with its value and the signal that stopped it, if any
//   exitStatusOf(signal)     130 for SIGINT, 143 for SIGTERM (128 + the signal's number)
//   everyWallSecond(fn, ms)  calls fn every ms of wall time [1000] until the returned stop();
//                            the timer is unref'd and fires only while the run yields to the
//                            event loop (a run that never yields must check the time itself)
//   yieldToEventLoop()       one macrotask turn, so that timers and signals get their chance

/** The signals that end a run with its partial summary. */
export type StopSignal = "SIGINT" | "SIGTERM";

/** What interruptible() gives back. */
export interface Interruptible<T> {
  readonly value: T;
  /** The signal that aborted the run, if one did. */
  readonly interrupted?: StopSignal;
}

/** Runs `body` with SIGINT/SIGTERM aborting the signal it is given (handlers removed after). */
export async function interruptible<T>(body: (signal: AbortSignal) => Promise<T>): Promise<Interruptible<T>> {
  const abort = new AbortController();
  let interrupted: StopSignal | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted === undefined) interrupted = sig === "SIGTERM" ? "SIGTERM" : "SIGINT";
    abort.abort(sig);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const value = await body(abort.signal);
    return interrupted === undefined ? { value } : { value, interrupted };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** The shell's exit status for a run ended by `signal`. */
export function exitStatusOf(signal: StopSignal): number {
  return signal === "SIGTERM" ? 143 : 130;
}

/** Calls `fn` every `everyMs` of wall time until stop() (a no-op when fn is undefined). */
export function everyWallSecond(fn: (() => void) | undefined, everyMs = 1000): () => void {
  if (fn === undefined) return () => {};
  const timer = setInterval(fn, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Resolves after one turn of the event loop (timers, I/O and signal handlers run). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A promise that resolves when `signal` aborts (never, without a signal). */
export function whenAborted(signal: AbortSignal | undefined): Promise<"aborted"> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve("aborted");
    else signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
}
