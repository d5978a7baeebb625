// The per-process world of a stateful fuzz target (a hypervisor, dom0, a guest and its device,
// built once on the first input and reset between inputs by the target itself), with the hooks
// its tests use: drop the world so the next input builds a fresh one, and read what the last
// input reported. An input that throws (a finding) drops the world too: it may have left it in a
// state no later input should inherit (a leaked mapping, a half-open ring).
//   createTargetWorld(build) -> { run(fn), reset(), lastOutcome }
//   xenstoreSettler(target)  -> settled(clock, promise): one xenstore round trip, bounded
//   peekText(server, path)   a node's value as latin1 text, read without a transaction
//   peekNumber(server, path) Number() of a node's text (a state), undefined when absent; one digit read directly
//   untilQuiet(clock, done)  pumps until done() holds with no timer due, after a host turn at least
//   commitAs(server, domid, ops)            a harness's xenstore writes as one committed transaction
//   keyChanges(dir, values, previous)       the removals and writes that turn the previous keys into these
import type { VirtualClock } from "../../../stack/time.ts";
import { pumpUntil, settleByPumping } from "../../../stack/settle.ts";
import { NetlabError } from "../../../stack/error.ts";
import type { XenstoreServer, XsDirectOp } from "../../../xen-sim/xenstore/types.ts";

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

/**
 * Number() of a node's latin1 text (a XenbusState: pump conditions read it every turn), undefined
 * when the node is absent. A one-digit value is read without making a string.
 */
export function peekNumber(server: { peek(path: string): Uint8Array | undefined }, path: string): number | undefined {
  const b = server.peek(path);
  if (b === undefined) return undefined;
  if (b.length === 1 && b[0]! >= 0x30 && b[0]! <= 0x39) return b[0]! - 0x30;
  return Number(Buffer.from(b).toString("latin1"));
}

/**
 * The harness's own xenstore writes (a domain it plays: a hand-driven frontend or backend, the
 * toolstack) committed straight into xenstored's tree as that domain, in one transaction
 * (XenstoreServer.commitAs): the tree and watch events of the same transaction sent over the
 * domain's connection, without its requests and the pump turns they take. Throws when xenstored
 * refuses (the harness's own error, not a finding). The code under test keeps its connection.
 */
export function commitAs(server: XenstoreServer, domid: number, ops: readonly XsDirectOp[]): void {
  const r = server.commitAs(domid, ops);
  if (!r.ok) throw new NetlabError("ERR_NETLAB_HARNESS", `xenstore refused the harness's commit as domain ${domid}: ${r.error}`);
}

/**
 * The operations that turn the keys under `dir` from `previous` into `values` (undefined: absent):
 * removals of the keys `previous` had and `values` leaves out, then writes of those whose value
 * differs. With both written the directory is as if every key were written afresh.
 */
export function keyChanges(dir: string, values: Readonly<Record<string, string | undefined>>, previous: ReadonlyMap<string, string>): XsDirectOp[] {
  const ops: XsDirectOp[] = [];
  for (const k of previous.keys()) if (values[k] === undefined) ops.push({ path: `${dir}/${k}` });
  for (const [k, v] of Object.entries(values)) if (v !== undefined && previous.get(k) !== v) ops.push({ path: `${dir}/${k}`, value: v });
  return ops;
}

/**
 * Pumps `clock` (pumpUntil) until `done()` holds and the world is quiet: no timer due now, or up to
 * `horizonMs` (later ones stay: virtual time does not move for them), after at least one turn of
 * the host (every promise continuation has run). A commit that follows then finds the code under
 * test done with the previous one, whatever the world's history (a request over the wire took
 * about that long by itself). False when it stops first (maxIterations, untilMs).
 */
export async function untilQuiet(
  clock: VirtualClock,
  done: () => boolean,
  options: { maxIterations?: number; untilMs?: number; horizonMs?: number } = {},
): Promise<boolean> {
  let turned = false;
  return pumpUntil(
    clock,
    () => {
      const next = clock.nextDeadline();
      const quiet = turned && (next === undefined || next > Math.max(clock.now(), options.horizonMs ?? 0)) && done();
      turned = true;
      return quiet;
    },
    options,
  );
}
