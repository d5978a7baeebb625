// What the lab's tests share: a shipped example loaded (or a thrown error naming its problems),
// and a topology's validation errors as "path: message" lines.
import { type Topology, loadTopology, validateTopology } from "./index.ts";

/** A shipped example by name; throws with the validation errors when it does not load. */
export function example(name: string): Topology {
  const r = loadTopology(name);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.topology;
}

/** validateTopology's errors as "path: message" lines ([] when valid). */
export function errorsOf(t: unknown): string[] {
  const v = validateTopology(t);
  return v.ok ? [] : v.errors.map((e) => `${e.path}: ${e.message}`);
}
