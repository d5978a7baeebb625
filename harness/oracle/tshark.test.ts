import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "./tshark.ts";
import { createCaptureFile } from "../pcap/files.ts";
import { udpFrame } from "./udp-frame.test-helper.ts";

const missing = tsharkMissingReason();

describe.skipIf(missing !== undefined)(`tshark oracle${missing ? ` (skipped: ${missing})` : ""}`, () => {
  it("finds exactly the packet with a bad UDP checksum and reads every packet", () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-tshark-"));
    try {
      const file = createCaptureFile(join(dir, "mixed.pcapng"));
      const id = file.sink.addInterface({ name: "sim0" });
      file.sink.record({ interfaceId: id, timestampMs: 1, data: udpFrame(new TextEncoder().encode("good")) });
      file.sink.record({ interfaceId: id, timestampMs: 2, data: udpFrame(new TextEncoder().encode("bad!"), { badChecksum: true }) });
      file.sink.record({ interfaceId: id, timestampMs: 3, data: udpFrame(new TextEncoder().encode("fine")), direction: "in" });
      file.close();
      const verdict = checkCaptureWithTshark(file.path);
      expect(verdict.packets).toBe(3);
      expect(verdict.offending).toHaveLength(1);
      expect(verdict.offending[0]).toMatch(/^\s*2\s/);
      expect(tsharkFields(file.path, ["frame.number", "udp.checksum.status", "udp.length"])).toEqual([
        ["1", "1", "12"],
        ["2", "0", "12"],
        ["3", "1", "12"],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("throws a coded error when tshark cannot read the file", () => {
    expect(() => checkCaptureWithTshark("/nonexistent/netlab.pcapng")).toThrow(expect.objectContaining({ code: "ERR_NETLAB_TSHARK_FAILED" }));
  });
});
