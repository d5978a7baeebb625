import { describe, expect, it } from "vitest";
import { runDemo } from "../../harness/cli/commands/demo.ts";

describe("demo --xen", () => {
  it("runs the three demo hosts as domUs behind netfront and dom0 bridges; every check passes and the capture is reproducible", async () => {
    const a = await runDemo({ seed: 2, xen: true });
    expect(a.checks.filter((c) => !c.ok)).toEqual([]);
    expect(a.checks.map((c) => c.name)).toContain("Xen: netfronts connected, no peer errors");
    const b = await runDemo({ seed: 2, xen: true });
    expect(Buffer.from(b.pcap).equals(Buffer.from(a.pcap))).toBe(true);
  }, 60_000);
});
