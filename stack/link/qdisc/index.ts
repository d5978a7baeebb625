// Public surface of stack/link/qdisc: queue disciplines behind one interface, and the factory
// that builds one from its spec (what links and topology files carry).
import type { Rng } from "../../time.ts";
import { createCodel } from "./codel.ts";
import { createDropTail } from "./drop-tail.ts";
import { createFqCodel } from "./fq-codel.ts";
import { createRed } from "./red.ts";
import type { QueueDiscipline, QueueDisciplineSpec, QueuedItem } from "./types.ts";

export * from "./types.ts";
export { createDropTail } from "./drop-tail.ts";
export { createRed, redDropProbability, type RedParams } from "./red.ts";
export { createCodel, codelDequeue, controlLaw, createCodelState, type CodelParams, type CodelQueue, type CodelState } from "./codel.ts";
export { createFqCodel, flowHash } from "./fq-codel.ts";
export { createQueueStats, type QueueStatsRecorder } from "./stats.ts";

/** Builds the discipline a spec names; rng serves RED's draws and FQ-CoDel's hash perturbation. */
export function createQueueDiscipline<T extends QueuedItem>(spec: QueueDisciplineSpec, deps: { readonly rng: Rng }): QueueDiscipline<T> {
  switch (spec.kind) {
    case "drop-tail":
      return createDropTail<T>(spec);
    case "red":
      return createRed<T>(deps, spec);
    case "codel":
      return createCodel<T>(spec);
    case "fq-codel":
      return createFqCodel<T>(deps, spec);
  }
}
