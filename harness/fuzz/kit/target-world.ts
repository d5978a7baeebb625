// The per-process world of a stateful fuzz target (a hypervisor, dom0, a guest and its device,
// built once on the first input and reset between inputs by the target itself), with the hooks
// its tests use: drop the world so the next input builds a fresh one, and read what the last
// input reported. An input that throws (a finding) drops the world too: it may have left it in a
// state no later input should inherit (a leaked mapping, a half-open ring).
//   createTargetWorld(build) -> { run(fn), reset(), lastOutcome }
//   xenstoreSettler(target)  -> settled(clock, promise): one xenstore round trip, bounded
//   peekText(server, path)   a node's value as latin1 text, read without a transaction
import type { VirtualClock } from "../../../stack/time.ts";
import { settleByPumping } from "../../../stack/settle.ts";

export interface TargetWorld<W> {
  /**
   * Runs one input against the world (built on first use). `report` records the input's
   * observable outcome (JSON) for the target's tests.
   */
  run(input: (world: W, report: (outcome: unknown) => void) => Promise<void>): Promise<void>;
  /** Drops the world: the next input builds a new one (tests compare against a fresh process). */
  reset(): void;
  /** What the last input reported, "" when it reported nothing. */
  readonly lastOutcome: string;
}

export function createTargetWorld<W>(build: () => Promise<W>): TargetWorld<W> {
  let world: Promise<W> | undefined;
  let outcome = "";
  const report = (o: unknown): void => {
    outcome = JSON.stringify(o);
  };
  return {
    async run(input) {
      outcome = "";
      try {
        await input(await (world ??= build()), report);
      } catch (e) {
        world = undefined;
        throw e;
      }
    },
    reset() {
      world = undefined;
    },
    get lastOutcome() {
      return outcome;
    },
  };
}

/** A settle for one xenstore operation of `target`'s world: stalls become errors naming the target. */
export function xenstoreSettler(target: string): <T>(clock: VirtualClock, p: Promise<T>) => Promise<T> {
  const what = `${target}: a xenstore operation`;
  return (clock, p) => settleByPumping(clock, p, { maxIterations: 5000, what });
}

/** A xenstore node's value as text (latin1: every byte one character), undefined when absent. */
export function peekText(server: { peek(path: string): Uint8Array | undefined }, path: string): string | undefined {
  const b = server.peek(path);
  return b === undefined ? undefined : Buffer.from(b).toString("latin1");
}
