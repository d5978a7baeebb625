// A driver's stack of free request ids for a ring (blkfront's shadow ids, netfront's tx ids), built
// whole for every new ring. Kept out of the drivers' modules, which fuzz builds instrument
// (harness/fuzz/targets/*front*: instrumentOnly): there, a loop of a ring's size (256 for netif)
// pays a coverage counter and a comparison hook (a native call) per id, for no decision.
//   freeIdStack(slots)   the ids 0..slots-1 as a stack whose top (last element) is id 0

/** The ids 0..slots-1 as a stack whose top is id 0 (popped lowest first). */
export function freeIdStack(slots: number): number[] {
  const out: number[] = [];
  for (let i = slots - 1; i >= 0; i--) out.push(i);
  return out;
}
