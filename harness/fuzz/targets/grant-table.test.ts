// The grant-table fuzz target on its seeds, their mutations and random inputs (see ../kit/target-tests.ts).
import * as target from "./grant-table.ts";
import { describe, expect, it } from "vitest";
import { describeSeedMutations } from "../kit/target-tests.ts";

describeSeedMutations("grant-table", target, { maxLength: 400 });

describe("grant-table model: the guest's own allocator writing an entry a grantee still pins (issue #15)", () => {
  // grantAccess knows only the refs it handed out; a ref the guest wrote raw is still on its free
  // list. Handing it out rewrites flags to GTF_permit_access and wipes the GTF_reading/GTF_writing
  // Xen set for the mapping (Xen clears them when the pins go, it never sets them back), so those
  // flags are the guest's doing, as after a raw write: the model must not hold Xen to them.
  const hex = (h: string): Buffer => Buffer.from(h, "hex");
  it("through grantAccess: raw ref 9 for domain 2, its readonly map, then grantAccess gives ref 9 to dom0", () => {
    // grant (ref 8) | raw ref 9 flags 0x0001 domid 2 frame 3 | map by 2 readonly | 2 raw writes of ref 0 | grant (ref 9) | map by 2
    expect(() => target.fuzz(hex("01000000000901000203020109010000000009010002030200090100020302010901"))).not.toThrow();
  });
  it("through a ring's grantAccess: raw ref 9 for domain 2, its writable map, then a 1-page ring takes ref 9", () => {
    // grant (ref 8) | raw ref 9 flags 0x0001 domid 2 frame 3 | writable map by 2 | ring (ref 9: not built) | copy ops
    expect(() => target.fuzz(hex("010000000009010002030201092a16000900004c"))).not.toThrow();
  });
  it("a ring does not stack on dom0's own mapping of a raw ref the allocator hands out again", () => {
    // grant (ref 8) | raw ref 9 flags 0x0001 domid 0 frame 3 | readonly map by dom0 | 1-page ring: ref 9
    // is still active on frame 3, so dom0's map would reach frame 3, not the ring page; not built.
    expect(() => target.fuzz(hex("010000000009010000030200090109000000"))).not.toThrow();
  });
});
