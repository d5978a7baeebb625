// Counter bags for layers: named counts plus drops by reason, snapshot on demand.
import type { LayerCounters } from "./types.ts";

/** A mutable counter bag owned by one layer instance. */
export interface CounterBag<K extends string> {
  readonly c: Record<K, number>;
  drop(reason: string): void;
  snapshot(): LayerCounters;
}

/** Creates a bag with the given counter names at zero. */
export function createCounters<K extends string>(names: readonly K[]): CounterBag<K> {
  const c = {} as Record<K, number>;
  for (const n of names) c[n] = 0;
  const drops: Record<string, number> = {};
  return {
    c,
    drop(reason) {
      drops[reason] = (drops[reason] ?? 0) + 1;
    },
    snapshot() {
      return { ...c, drops: { ...drops } };
    },
  };
}
