import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "./tshark.ts";
import { createCaptureFile } from "../pcap/files.ts";
import { tcpAckChecksumFfff, udpFrame } from "./udp-frame.test-helper.ts";
import { ipv6 } from "../../stack/wire/ipv6-address.ts";

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

  it("forgives a TCP checksum of 0xFFFF only from the sources named, and never a wrong one", () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-tshark-"));
    try {
      const kernel = 0xc0000201,
        netlab = 0xc0000203;
      const file = createCaptureFile(join(dir, "ffff.pcapng"));
      const id = file.sink.addInterface({ name: "sim0" });
      file.sink.record({ interfaceId: id, timestampMs: 1, data: tcpAckChecksumFfff(kernel) });
      file.sink.record({ interfaceId: id, timestampMs: 2, data: tcpAckChecksumFfff(netlab) });
      file.sink.record({ interfaceId: id, timestampMs: 3, data: tcpAckChecksumFfff(kernel, { bad: true }) });
      file.close();
      expect(checkCaptureWithTshark(file.path).offending).toHaveLength(3);
      const forgiving = checkCaptureWithTshark(file.path, { acceptTcpChecksumFfffFrom: ["192.0.2.1"] });
      expect(forgiving.packets).toBe(3);
      expect(forgiving.offending.map((l) => l.trim().split(/\s+/)[0])).toEqual(["2", "3"]);
      expect(() => checkCaptureWithTshark(file.path, { acceptTcpChecksumFfffFrom: ["1.2.3.4} || tcp"] })).toThrow(/not a dotted-quad/);
      expect(() => checkCaptureWithTshark(file.path, { acceptTcpChecksumFfffFrom: ["2001:db8::1} || tcp"] })).toThrow(/not a dotted-quad/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("forgives the same over IPv6, from the v6 sources named", () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-tshark-"));
    try {
      const file = createCaptureFile(join(dir, "ffff6.pcapng"));
      const id = file.sink.addInterface({ name: "sim0" });
      file.sink.record({ interfaceId: id, timestampMs: 1, data: tcpAckChecksumFfff(ipv6("2001:db8:1::1")) });
      file.sink.record({ interfaceId: id, timestampMs: 2, data: tcpAckChecksumFfff(ipv6("2001:db8:1::3")) });
      file.sink.record({ interfaceId: id, timestampMs: 3, data: tcpAckChecksumFfff(ipv6("2001:db8:1::1"), { bad: true }) });
      file.close();
      expect(checkCaptureWithTshark(file.path).offending).toHaveLength(3);
      const forgiving = checkCaptureWithTshark(file.path, { acceptTcpChecksumFfffFrom: ["192.0.2.1", "2001:db8:1::1"] });
      expect(forgiving.offending.map((l) => l.trim().split(/\s+/)[0])).toEqual(["2", "3"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("throws a coded error when tshark cannot read the file", () => {
    expect(() => checkCaptureWithTshark("/nonexistent/netlab.pcapng")).toThrow(expect.objectContaining({ code: "ERR_NETLAB_TSHARK_FAILED" }));
  });
});
