// `netlab attach --xen` as a user runs it (a child process whose tap sits in a namespace this
// test created), and netlab's DHCP client in a domU leasing from dnsmasq through dom0's bridge.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { dnsmasqArgs } from "../../harness/dhcp/dnsmasq.ts";
import { checkCaptureWithTshark } from "../../harness/oracle/tshark.ts";
import { withNetns } from "../../harness/netns/index.ts";
import { composeAttachedStack } from "../../harness/tap/attached-stack.ts";
import { formatIpv4, formatMac } from "../../stack/wire/address.ts";
import { announceSkip, interopSkipReason, tsharkOffending, waitUntil } from "./support.ts";
import { report, withXenLab } from "./xen-support.ts";

const skip = announceSkip("netlab attach --xen", interopSkipReason(["ping", "tshark", "dnsmasq", "curl", "tcpdump"]));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "bin", "netlab.mjs");

function tapName(): string {
  return `nlx${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 15);
}

/** dnsmasq serving DHCPv4 on ifname with 192.0.2.1 as the router. */
function dhcpServerArgs(ifname: string): string[] {
  return dnsmasqArgs(ifname, [
    "--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h",
    "--dhcp-option=option:router,192.0.2.1",
    "--dhcp-leasefile=/dev/null",
    "--no-ping",
  ]);
}

describe.skipIf(skip)("netlab attach --xen", () => {
  it("with --xen --dhcp leases from dnsmasq through the bridge, answers ping and curl, pings back, and on SIGINT releases the lease and cleans up", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-attach-xen-"));
    const pcap = join(dir, "attach.pcapng");
    const tap = tapName();
    try {
      await withNetns(async (ns) => {
        const child = spawn(
          process.execPath,
          [
            CLI,
            "attach",
            "--xen",
            "--tap",
            tap,
            "--netns",
            ns.name,
            "--peer",
            "192.0.2.1/24",
            "--dhcp",
            "--mac",
            "00:16:3e:12:34:56",
            "--http-root",
            ROOT,
            "--ping",
            "192.0.2.1",
            "--pcap",
            pcap,
            "--stats-interval",
            "0.5",
            "--json",
          ],
          { cwd: ROOT },
        );
        let stdout = "",
          stderr = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          stdout += d;
        });
        child.stderr.setEncoding("utf8").on("data", (d: string) => {
          stderr += d;
        });
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        const events = (): Array<Record<string, unknown>> =>
          stdout
            .split("\n")
            .filter((l) => l.startsWith("{"))
            .map((l) => JSON.parse(l) as Record<string, unknown>);
        try {
          await waitUntil(() => events().some((e) => e["event"] === "attached"), 15_000, `attach --xen to come up (stderr: ${stderr})`);
          const attached = events().find((e) => e["event"] === "attached")!;
          expect(attached).toMatchObject({ tap, netns: ns.name, mac: "00:16:3e:12:34:56", pcap });
          expect(attached["xen"]).toMatchObject({ vif: expect.stringMatching(/^vif\d+\.0$/), bridge: "xenbr0", frontend: "device/vif/0" });
          const tcpdump = ns.spawn("tcpdump", ["-i", tap, "-n", "-U", "--immediate-mode", "-s", "256", "-w", join(dir, "kernel-side.pcap")]);
          await tcpdump.waitFor(/listening on/, 5000);
          const dnsmasq = ns.spawn("dnsmasq", dhcpServerArgs(tap));
          await waitUntil(
            () => events().some((e) => e["event"] === "address"),
            20_000,
            "a DHCP lease (DISCOVER retransmits after 4 s; RFC 5227 probing takes ~5 s)",
          );
          const address = String(events().find((e) => e["event"] === "address")!["address"]).split("/")[0]!;
          expect(address).toMatch(/^192\.0\.2\.1\d\d$/);
          await dnsmasq.waitFor(new RegExp(`DHCPACK\\(${tap}\\) ${address.replaceAll(".", "\\.")} 00:16:3e:12:34:56`), 2000);
          const ping = await ns.exec("ping", ["-n", "-c", "3", "-i", "0.1", "-W", "2", address], { timeoutMs: 10_000 });
          expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
          const curl = await ns.exec(
            "curl",
            ["-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", `http://${address}/package.json`],
            { timeoutMs: 15_000 },
          );
          expect(curl.stdout).toMatch(/^200 [1-9]\d*$/);
          await waitUntil(() => events().some((e) => e["event"] === "ping" && typeof e["rttMs"] === "number"), 5000, "a ping reply from the kernel");
          await waitUntil(
            () => events().some((e) => e["event"] === "counters" && (e["netfront.rxFrames"] as number) > 0),
            5000,
            "counters with netfront figures",
          );
          child.kill("SIGINT");
          expect(await exited).toBe(0);
          await dnsmasq.waitFor(new RegExp(`DHCPRELEASE\\(${tap}\\) ${address.replaceAll(".", "\\.")} `), 5000);
          const stopped = events().find((e) => e["event"] === "stopped")!;
          expect(stopped).toMatchObject({
            reason: "SIGINT",
            dropped: 0,
            "http.requests": 1,
            "xen.peerErrors": 0,
            "netfront.txDropped": 0,
            "netback.rxDropped": 0,
          });
          expect(stopped["icmp.echoRequestsReceived"]).toBe(3);
          // A frame may still sit on the tx ring when the final counters are read.
          expect((stopped["netfront.txFrames"] as number) - (stopped["netback.txFrames"] as number)).toBeGreaterThanOrEqual(0);
          expect((stopped["netfront.txFrames"] as number) - (stopped["netback.txFrames"] as number)).toBeLessThanOrEqual(2);
          expect(await ns.exec("ip", ["link", "show", "dev", tap])).toMatchObject({ code: 1 });
          const verdict = checkCaptureWithTshark(pcap);
          expect(verdict.offending).toEqual([]);
          expect(verdict.packets).toBeGreaterThanOrEqual(20);
        } catch (e) {
          if (e instanceof Error)
            e.message += `\n[interop] attach stdout:\n${stdout}\nstderr:\n${stderr}\ncaptures: ${pcap} (netlab, bridge's tap port), ${join(dir, "kernel-side.pcap")} (tcpdump)`;
          throw e;
        } finally {
          if (child.exitCode === null) child.kill("SIGKILL");
        }
      });
      rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      if (e instanceof Error) e.message += `\n[interop] files kept in ${dir}`;
      throw e;
    }
  });

  it("netlab's DHCP client in a domU leases from dnsmasq through netfront/netback/bridge and releases on stop", async () => {
    await withXenLab("domU dhcp client vs dnsmasq", {}, async ({ lab, xen, device, clock, rng }) => {
      const dnsmasq = lab.spawn("dnsmasq", dhcpServerArgs(lab.ifname));
      await dnsmasq.waitFor(/DHCP, IP range 192\.0\.2\.100/, 5000);
      const start = performance.now();
      const attached = await composeAttachedStack({ device, clock, rng }, { address: { kind: "dhcp" }, dhcpProbe: false });
      const cidr = await Promise.race([attached.ready, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no lease within 10 s")), 10_000))]);
      const leaseMs = performance.now() - start;
      const address = formatIpv4(cidr.address);
      expect(address).toMatch(/^192\.0\.2\.(1[0-4]\d|150)$/);
      expect(cidr.prefixLength).toBe(24);
      expect(attached.gateway()).toBe(0xc0000201);
      const mac = formatMac(xen.netfront.mac);
      await dnsmasq.waitFor(new RegExp(`DHCPACK\\(${lab.ifname}\\) ${address.replaceAll(".", "\\.")} ${mac}`), 2000);
      const ping = await lab.ns.exec("ping", ["-n", "-c", "2", "-i", "0.1", "-W", "2", address], { timeoutMs: 10_000 });
      expect(ping.stdout).toMatch(/2 packets transmitted, 2 received/);
      await attached.stop();
      await dnsmasq.waitFor(new RegExp(`DHCPRELEASE\\(${lab.ifname}\\) ${address.replaceAll(".", "\\.")} ${mac}`), 5000);
      expect(xen.counters()["bridge.flooded"]).toBeGreaterThanOrEqual(1);
      expect(xen.peerErrors).toEqual([]);
      expect(tsharkOffending(lab)).toEqual([]);
      report(`xen: domU DHCP client got ${address} from dnsmasq in ${leaseMs.toFixed(0)} ms (includes the random 0..500 ms initial delay)`);
    });
  });
});
