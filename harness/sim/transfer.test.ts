// `netlab sim transfer`: sha256-checked bulk transfers over impaired wires, determinism,
// a tshark-clean capture, and the CLI's JSON and exit codes.
import { interruptCli } from "../cli/interrupt-testing.ts";
import { describe, expect, it, vi } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkCaptureWithTshark, tsharkFields, tsharkMissingReason } from "../oracle/tshark.ts";
import { parseTransferArgs, run, runTransfer } from "./transfer.ts";
import { parseCaptureBytes, readCaptureFile } from "../pcap/files.ts";
import { UsageError } from "../cli/args.ts";

const LOSSY = { delayMs: 5, jitterMs: 1, loss: 0.05, reorder: 0.05, duplicate: 0.01, corrupt: 0.01 } as const;

async function captureStdout(f: () => Promise<number>): Promise<{ code: number; out: string }> {
  let out = "";
  const w = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    return { code: await f(), out };
  } finally {
    w.mockRestore();
    e.mockRestore();
  }
}

describe("netlab sim transfer", () => {
  for (const [seed, cc] of [
    [1, "cubic"],
    [2, "newreno"],
    [3, "cubic"],
    [4, "newreno"],
  ] as const) {
    it(`2 MB arrive with matching sha256 at 5% loss with reordering, duplication and corruption (${cc}, seed ${seed})`, () => {
      const r = runTransfer({ bytes: 2_000_000, ...LOSSY, congestionControl: cc, seed });
      expect(r).toMatchObject({ ok: true, bytes: 2_000_000, received: 2_000_000, sha256Match: true, congestionControl: cc });
      expect(r.sha256Received).toBe(r.sha256Sent);
      expect(r.retransmits).toBeGreaterThan(0);
      expect(r.link.lost).toBeGreaterThan(0);
      expect(r.link.corrupted).toBeGreaterThan(0);
      expect(r.virtualSeconds).toBeGreaterThan(0);
      expect(r.virtualGoodputBitsPerSecond).toBeCloseTo((2_000_000 * 8) / r.virtualSeconds, -1);
    });
  }

  it("with ECN on a bottleneck that marks CE at 20 queued frames, the sender backs off without a loss; drop-tail at 50 frames loses and retransmits", () => {
    const base = { bytes: 4_000_000, delayMs: 10, rateBitsPerSecond: 50_000_000, queueFrames: 50 } as const;
    const ecn = runTransfer({ ...base, ecn: true, ecnMarkFrames: 20 });
    expect(ecn).toMatchObject({ ok: true, retransmits: 0, link: { queueDrops: 0 } });
    expect(ecn.link.ceMarked).toBeGreaterThan(0);
    expect(ecn.tcpStats.sender["ecnReductions"]).toBeGreaterThan(0);
    expect(ecn.tcpStats.sender["ecnCwrSent"]).toBe(ecn.tcpStats.sender["ecnReductions"]);
    expect(ecn.tcpStats.receiver["ecnCeReceived"]).toBeGreaterThan(0);
    const dropTail = runTransfer(base);
    expect(dropTail.ok).toBe(true);
    expect(dropTail.link.queueDrops).toBeGreaterThan(0);
    expect(dropTail.retransmits).toBeGreaterThan(0);
    expect(parseTransferArgs(["--bytes", "1M", "--ecn", "--ecn-mark", "20", "--queue=50"])).toMatchObject({ ecn: true, ecnMarkFrames: 20, queueFrames: 50 });
    expect(() => parseTransferArgs(["--bytes", "1M", "--queue", "0"])).toThrow(/--queue/);
  });

  it("50 MB arrive with matching sha256 at 10% loss with reordering, duplication and corruption", () => {
    const r = runTransfer({ bytes: 50_000_000, ...LOSSY, loss: 0.1, seed: 7 });
    expect(r).toMatchObject({ ok: true, received: 50_000_000, sha256Match: true });
    expect(r.retransmits).toBeGreaterThan(1000);
  }, 120_000);

  it("the same seed gives the same run: same bytes, same retransmissions, same virtual duration", () => {
    const a = runTransfer({ bytes: 500_000, ...LOSSY, seed: 42 });
    const b = runTransfer({ bytes: 500_000, ...LOSSY, seed: 42 });
    const c = runTransfer({ bytes: 500_000, ...LOSSY, seed: 43 });
    expect([b.sha256Sent, b.retransmits, b.virtualSeconds, b.segmentsSent]).toEqual([a.sha256Sent, a.retransmits, a.virtualSeconds, a.segmentsSent]);
    expect(c.sha256Sent).not.toBe(a.sha256Sent);
  });

  it("a rate-limited wire bounds the goodput over virtual time by the line rate", () => {
    const r = runTransfer({ bytes: 3_000_000, rateBitsPerSecond: 50_000_000, delayMs: 2 });
    expect(r.ok).toBe(true);
    expect(r.virtualGoodputBitsPerSecond).toBeLessThan(50_000_000);
    expect(r.virtualGoodputBitsPerSecond).toBeGreaterThan(35_000_000);
  });

  it("a transfer that cannot finish reports ok false with the reason: ARP never resolves on a dead wire, time runs out on a slow one", () => {
    const dead = runTransfer({ bytes: 100_000, loss: 1 });
    expect(dead).toMatchObject({ ok: false, received: 0, sha256Match: false, error: "sender: EHOSTUNREACH" });
    const slow = runTransfer({ bytes: 1_000_000, rateBitsPerSecond: 1_000_000, maxVirtualSeconds: 2 });
    expect(slow).toMatchObject({ ok: false, sha256Match: false, error: "virtual time limit reached" });
    expect(slow.received).toBeGreaterThan(100_000);
    expect(slow.received).toBeLessThan(300_000);
  });

  it.skipIf(tsharkMissingReason() !== undefined)(
    "tshark finds nothing malformed or mis-checksummed in the --pcap capture of a lossy, reordered, duplicated transfer",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "netlab-sim-transfer-"));
      try {
        const pcap = join(dir, "transfer.pcapng");
        const r = runTransfer({ bytes: 400_000, ...LOSSY, corrupt: 0, seed: 5, pcap });
        expect(r.ok).toBe(true);
        const verdict = checkCaptureWithTshark(pcap);
        expect(verdict.packets).toBeGreaterThan(400);
        expect(verdict.offending).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("--no-timestamps runs both stacks without RFC 7323 timestamps: full 1460-byte segments instead of 1448", () => {
    expect(parseTransferArgs(["--bytes", "1M", "--no-timestamps"])).toMatchObject({ timestamps: false });
    expect(parseTransferArgs(["--bytes", "1M"]).timestamps).toBeUndefined();
    const bytes = 1460 * 1448;
    const withTs = runTransfer({ bytes });
    const without = runTransfer({ bytes, timestamps: false });
    expect([withTs.ok, without.ok, withTs.timestamps, without.timestamps]).toEqual([true, true, true, false]);
    // data segments: bytes / 1448 with timestamps, bytes / 1460 without (the handshake and FIN alike)
    expect(withTs.segmentsSent - without.segmentsSent).toBe(1460 - 1448);
  });

  it("--ack-coalescing has both stacks ACK a burst once (GRO-like): the same bytes intact, far fewer ACKs from the receiver", () => {
    expect(parseTransferArgs(["--bytes", "1M", "--ack-coalescing"])).toMatchObject({ ackCoalescing: true });
    expect(parseTransferArgs(["--bytes", "1M"]).ackCoalescing).toBeUndefined();
    const bytes = 4_000_000;
    const plain = runTransfer({ bytes });
    const coalesced = runTransfer({ bytes, ackCoalescing: true });
    expect([plain.ok, coalesced.ok, plain.ackCoalescing, coalesced.ackCoalescing]).toEqual([true, true, false, true]);
    expect(coalesced.sha256Received).toBe(plain.sha256Received);
    const acks = (r: typeof plain): number => r.tcpStats.receiver["segmentsSent"] ?? 0;
    // an ACK per second segment without it (about 1,380 for 2,763 segments); per 64 KiB burst at most with it
    expect(acks(plain)).toBeGreaterThan(1300);
    expect(acks(coalesced)).toBeLessThan(acks(plain) / 10);
    expect(acks(coalesced)).toBeGreaterThanOrEqual(Math.floor(bytes / 65536));
  });

  it("parses sizes, rates and percentages, and rejects bad options with a message", () => {
    expect(parseTransferArgs(["--bytes", "50M", "--loss", "5%", "--rate", "1G", "--cc", "newreno", "--mtu", "9000", "--dup", "0.01"])).toMatchObject({
      bytes: 50_000_000,
      loss: 0.05,
      rateBitsPerSecond: 1_000_000_000,
      congestionControl: "newreno",
      mtu: 9000,
      duplicate: 0.01,
    });
    expect(parseTransferArgs(["--bytes", "1Mi"])).toMatchObject({ bytes: 1_048_576 });
    expect(parseTransferArgs(["--bytes=64k", "--delay=1.5s", "--seed=4294967295"])).toMatchObject({ bytes: 64_000, delayMs: 1500, seed: 4294967295 });
    expect(() => parseTransferArgs(["--bytes", "1M", "--loss", "1.5"])).toThrow(/--loss needs a probability/);
    expect(() => parseTransferArgs(["--bytes", "1M", "--cc", "vegas"])).toThrow("--cc needs one of cubic, newreno, bbr, got 'vegas'");
    expect(() => parseTransferArgs(["--bytes", "1M", "--seed", "4294967296"])).toThrow(/--seed needs a seed in 0\.\.4294967295/);
    expect(() => parseTransferArgs(["--bytes", "1M", "--frobnicate"])).toThrow(UsageError);
    expect(() => parseTransferArgs(["--loss", "0.1"])).toThrow("--bytes is required");
  });

  it("run() --json prints one object in iperf3's sections (start, intervals, end) with units, and exits 0; failures exit 1, bad options 2", async () => {
    const good = await captureStdout(() => run(["--bytes", "300000", "--loss", "0.02", "--delay", "2", "--seed", "9", "--json"]));
    expect(good.code).toBe(0);
    const lines = good.out.trim().split("\n");
    expect(lines).toHaveLength(1);
    const o = JSON.parse(lines[0]!) as { start: Record<string, unknown>; intervals: unknown[]; end: Record<string, unknown>; units: Record<string, string> };
    expect(Object.keys(o)).toEqual(["start", "intervals", "end", "units"]);
    expect(o.start).toMatchObject({
      command: "sim transfer",
      args: ["--bytes", "300000", "--loss", "0.02", "--delay", "2", "--seed", "9", "--json"],
      family: "ipv4",
      connected: { senderAddress: "192.0.2.1", receiverAddress: "192.0.2.2", receiverPort: 5001 },
      mss: 1448,
      congestionControl: "cubic",
      bufferBytes: null,
      seed: 9,
      test: { mtu: 1500, intervalSeconds: null, impairments: { loss: 0.02, delayMs: 2 } },
      timestamp: { virtualOriginSeconds: 0 },
    });
    expect(o.start["version"]).toMatch(/^\d+\.\d+\.\d+/);
    expect(Date.parse((o.start["timestamp"] as { wall: string }).wall)).toBeGreaterThan(Date.now() - 120_000);
    expect(o.intervals).toEqual([]);
    expect(o.end).toMatchObject({ ok: true, bytes: 300_000, received: 300_000, sha256Match: true });
    for (const k of [
      "virtualSeconds",
      "wallSeconds",
      "cpuSeconds",
      "virtualGoodputBitsPerSecond",
      "wallGoodputBitsPerSecond",
      "cpuGoodputBitsPerSecond",
      "retransmits",
    ])
      expect(typeof o.end[k]).toBe("number");
    for (const k of ["seed", "family", "mss", "intervals"]) expect(o.end).not.toHaveProperty(k);
    expect(o.units).toMatchObject({ bytes: "B", received: "B", mss: "B", loss: "fraction" });
    const bad = await captureStdout(() => run(["--bytes", "10000", "--loss", "1", "--max-virtual-seconds", "2", "--json"]));
    expect(bad.code).toBe(1);
    expect((JSON.parse(bad.out) as { end: unknown }).end).toMatchObject({ ok: false, sha256Match: false });
    await expect(run(["--bytes"])).rejects.toThrow(UsageError);
  });

  it("run() --interval prints iperf3-style lines and a summary with SI-formatted figures; --json has one interval per line", async () => {
    const args = ["--bytes", "300000", "--delay", "2", "--rate", "20M", "--interval", "0.05", "--seed", "3", "--quiet"];
    const text = await captureStdout(() => run(args));
    expect(text.code).toBe(0);
    const lines = text.out.trim().split("\n");
    expect(lines[0]).toMatch(
      /^\[ {3}0\.00- {3}0\.05 s\] +\d+(\.\d+)? [kM]?B +\d+(\.\d+)? [kM]bit\/s {2}retr +0 {2}cwnd +\d+(\.\d+)? (Ki|Mi)?B {2}srtt \d+\.\d ms$/,
    );
    expect(lines.at(-1)).toMatch(
      /^transfer: 300000\/300000 bytes, sha256 matches .*virtual \d+\.\d{3} s \(1\d\.\d Mbit\/s\), wall [\d.]+ s \(\d+(\.\d+)? [kMG]bit\/s\)/,
    );
    const json = await captureStdout(() => run([...args, "--json"]));
    const o = JSON.parse(json.out) as {
      start: { test: { intervalSeconds: number } };
      intervals: { bytes: number; endSeconds: number }[];
      end: { received: number };
    };
    expect(o.start.test.intervalSeconds).toBe(0.05);
    expect(o.intervals).toHaveLength(lines.length - 1);
    expect(o.intervals.reduce((n, i) => n + i.bytes, 0)).toBe(o.end.received);
  });
});

describe("netlab sim transfer interrupted", () => {
  it("on SIGINT prints the partial summary, leaves a capture tshark reads, and exits 130; progress comes at least once a second", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-transfer-int-"));
    const pcap = join(dir, "t.pcapng");
    try {
      const run = await interruptCli(["sim", "transfer", "--bytes", "20G", "--delay", "1", "--rate", "200M", "--interval", "0.5", "--pcap", pcap, "--json"], {
        ready: /transfer: \S+ [kMG]?B\/20\.0 GB \(/,
        signal: "SIGINT",
        afterMs: 1500,
        readyTimeoutMs: 20_000,
      });
      expect(run.ready).toBe(true);
      expect(run.status).toBe(130);
      const { stdout, stderr } = run;
      expect(stderr).toMatch(/transfer: \S+ [kMG]?B\/20\.0 GB \(/);
      const report = JSON.parse(stdout) as {
        start: { seed: number };
        end: { ok: boolean; interrupted: string; error: string; received: number };
        intervals: unknown[];
      };
      expect(report.end).toMatchObject({ ok: false, interrupted: "SIGINT", error: "interrupted (SIGINT)" });
      expect(report.start.seed).toBe(1);
      expect(report.end.received).toBeGreaterThan(0);
      expect(report.intervals.length).toBeGreaterThan(0);
      // Progress lines came at most about a second apart.
      expect((stderr.match(/transfer: /g) ?? []).length).toBeGreaterThanOrEqual(2);
      // The capture is whole: every block complete (a run cut inside a write would leave a torn
      // last block), and as many data frames as the report's segments and more.
      const capture = readCaptureFile(pcap);
      expect(capture.ok).toBe(true);
      if (capture.ok) {
        expect(capture.value.truncated).toBeUndefined();
        expect(capture.value.packets.length).toBeGreaterThan(100);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("netlab sim transfer --pcap - (the capture on standard output, as tcpdump -w -)", () => {
  it("streams a pcapng that parses whole, byte-identical to --pcap FILE, with the summary on stderr; --pcap - with --json is a usage error", async () => {
    const { spawnSync } = await import("node:child_process");
    const cli = join(import.meta.dirname, "../../bin/netlab.mjs");
    const dir = mkdtempSync(join(tmpdir(), "netlab-transfer-stdout-"));
    try {
      const args = ["sim", "transfer", "--bytes", "300k", "--loss", "2%", "--seed", "7", "--quiet"];
      const piped = spawnSync(process.execPath, [cli, ...args, "--pcap", "-"], { timeout: 60_000 });
      expect(piped.status).toBe(0);
      expect(piped.stderr.toString()).toMatch(/^transfer: 300000\/300000 bytes, sha256 matches/m);
      const file = join(dir, "t.pcapng");
      expect(spawnSync(process.execPath, [cli, ...args, "--pcap", file], { timeout: 60_000 }).status).toBe(0);
      const out = new Uint8Array(piped.stdout);
      const parsed = parseCaptureBytes(out);
      expect(parsed.ok).toBe(true);
      if (parsed.ok) expect(parsed.value.packets.length).toBeGreaterThan(200);
      expect(Buffer.from(out).equals(readFileSync(file))).toBe(true);
      const both = spawnSync(process.execPath, [cli, ...args, "--pcap", "-", "--json"], { encoding: "utf8", timeout: 60_000 });
      expect(both.status).toBe(2);
      expect(both.stdout).toBe("");
      expect(both.stderr).toMatch(/--pcap - and --json both write to standard output/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("netlab sim transfer --ipv6", () => {
  it("carries the bytes over TCP over IPv6 (v6 frames only, MSS 1440, tshark-clean), --json names the family, the v4 run says ipv4; an MTU under 1280 is a usage error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-transfer-v6-"));
    try {
      const pcap = join(dir, "t6.pcapng");
      const six = await captureStdout(() => run(["--bytes", "600000", "--ipv6", "--loss", "0.02", "--delay", "2", "--seed", "9", "--pcap", pcap, "--json"]));
      expect(six.code).toBe(0);
      const o = JSON.parse(six.out) as { start: { family: string; mss: number }; end: { ok: boolean; received: number; retransmits: number } };
      expect(o.start).toMatchObject({ family: "ipv6", mss: 1428 }); // 1440 less the 12 bytes of timestamps, as Linux's tcpi_snd_mss
      expect(o.end).toMatchObject({ ok: true, received: 600_000 });
      expect(o.end.retransmits).toBeGreaterThan(0);
      const capture = readCaptureFile(pcap);
      if (!capture.ok) throw new Error(capture.error);
      const etherTypes = new Set(capture.value.packets.map((p) => (p.data[12]! << 8) | p.data[13]!));
      expect(etherTypes).toEqual(new Set([0x86dd]));
      if (tsharkMissingReason() === undefined) {
        expect(checkCaptureWithTshark(pcap).offending).toEqual([]);
        const syns = tsharkFields(pcap, ["ipv6.src", "ipv6.dst", "tcp.options.mss_val"], "tcp.flags.syn == 1");
        expect(syns).toEqual([
          ["2001:db8::1", "2001:db8::2", "1440"],
          ["2001:db8::2", "2001:db8::1", "1440"],
        ]);
      }
      expect(runTransfer({ bytes: 10_000 }).family).toBe("ipv4");
      expect(() => parseTransferArgs(["--bytes", "1M", "--ipv6", "--mtu", "1000"])).toThrow(/minimum link MTU of 1280/);
      expect(parseTransferArgs(["--bytes", "1M", "--ipv6", "--mtu", "1280"])).toMatchObject({ ipv6: true, mtu: 1280 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
