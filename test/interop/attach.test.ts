// `netlab attach` as a user runs it: a child process on a tap whose kernel end sits in a
// namespace this test created; it answers ping, pings back, writes a valid capture, and
// cleans up on SIGINT. Also its coded errors.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkCaptureWithTshark } from "../../harness/oracle/tshark.ts";
import { withNetns } from "../../harness/netns/index.ts";
import { announceSkip, interopSkipReason, waitUntil } from "./support.ts";

const skip = announceSkip("netlab attach", interopSkipReason(["ping", "tshark", "dnsmasq", "curl"]));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "bin", "netlab.mjs");

function tapName(): string {
  return `nla${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 15);
}

/** A running `netlab attach ARGS` child: its output so far, its --json events, its exit code. */
function startAttachChild(args: readonly string[]) {
  const child = spawn(process.execPath, [CLI, "attach", ...args], { cwd: ROOT });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  return {
    child,
    exited: new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code))),
    stdout: () => stdout,
    stderr: () => stderr,
    events: (): Array<Record<string, unknown>> =>
      stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Runs `netlab attach ARGS` to its end (killed after 20 s); its exit code and stdout. */
async function runAttach(args: readonly string[]): Promise<{ code: number | null; stdout: string }> {
  const run = startAttachChild(args);
  const killer = setTimeout(() => run.child.kill("SIGKILL"), 20_000);
  const code = await run.exited;
  clearTimeout(killer);
  return { code, stdout: run.stdout() };
}

describe.skipIf(skip)("netlab attach", () => {
  it("brings the stack up on a tap in a namespace, answers and sends pings, and on SIGINT stops, closes the tap and leaves a clean capture", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-attach-"));
    const pcap = join(dir, "attach.pcapng");
    const tap = tapName();
    try {
      await withNetns(async (ns) => {
        const { child, exited, events, stderr } = startAttachChild([
          "--tap",
          tap,
          "--netns",
          ns.name,
          "--peer",
          "192.0.2.1/24",
          "--ip",
          "192.0.2.2/24",
          "--ping",
          "192.0.2.1",
          "--pcap",
          pcap,
          "--stats-interval",
          "0.2",
          "--json",
        ]);
        try {
          await waitUntil(() => events().some((e) => e["event"] === "address"), 10_000, `attach to report its address (stderr: ${stderr()})`);
          expect(events().find((e) => e["event"] === "attached")).toMatchObject({ tap, netns: ns.name, pcap });
          expect(events().find((e) => e["event"] === "address")).toMatchObject({ address: "192.0.2.2/24" });
          const ping = await ns.exec("ping", ["-n", "-c", "3", "-i", "0.1", "-W", "2", "192.0.2.2"], { timeoutMs: 10_000 });
          expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
          await waitUntil(() => events().some((e) => e["event"] === "ping" && typeof e["rttMs"] === "number"), 5000, "a ping reply from the kernel");
          await waitUntil(
            () => events().some((e) => e["event"] === "counters" && (e["icmp.echoRepliesSent"] as number) >= 3),
            5000,
            "counters showing 3 echo replies",
          );
          child.kill("SIGINT");
          expect(await exited).toBe(0);
          const stopped = events().find((e) => e["event"] === "stopped");
          expect(stopped).toMatchObject({ reason: "SIGINT", dropped: 0 });
          expect(stopped!["icmp.echoRequestsReceived"]).toBe(3);
          expect(await ns.exec("ip", ["link", "show", "dev", tap])).toMatchObject({ code: 1 });
          const verdict = checkCaptureWithTshark(pcap);
          expect(verdict.offending).toEqual([]);
          expect(verdict.packets).toBeGreaterThanOrEqual(8);
        } finally {
          if (child.exitCode === null) child.kill("SIGKILL");
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("dual stack: --ip takes a v4 and a v6 CIDR; the kernel pings the stack's v6 global and link-local addresses, curl -6 fetches from --http-root, and --json names each address's family", async () => {
    const tap = tapName();
    const root = mkdtempSync(join(tmpdir(), "netlab-attach6-"));
    writeFileSync(join(root, "hello.txt"), "hello over IPv6\n");
    await withNetns(async (ns) => {
      const { child, exited, events, stderr } = startAttachChild([
        "--tap",
        tap,
        "--netns",
        ns.name,
        "--peer",
        "192.0.2.1/24",
        "--ip",
        "192.0.2.2/24",
        "--ip",
        "2001:db8::2/64",
        "--http-root",
        root,
        "--stats-interval",
        "0.2",
        "--json",
      ]);
      try {
        const addresses = () => events().filter((e) => e["event"] === "address");
        // Each address is reported once its own DAD is over (random delays): wait for both.
        await waitUntil(
          () => addresses().some((e) => e["address"] === "2001:db8::2/64") && addresses().some((e) => e["origin"] === "link-local"),
          10_000,
          `attach to report its v6 addresses after DAD (stderr: ${stderr()})`,
        );
        expect(addresses().find((e) => e["family"] === "ipv4")).toMatchObject({ address: "192.0.2.2/24" });
        expect(addresses().find((e) => e["address"] === "2001:db8::2/64")).toMatchObject({ family: "ipv6", origin: "static" });
        const linkLocal = addresses().find((e) => e["family"] === "ipv6" && e["origin"] === "link-local");
        expect(linkLocal?.["address"]).toMatch(/^fe80::[0-9a-f:]+\/64$/);
        expect((await ns.exec("ip", ["-6", "addr", "add", "2001:db8::1/64", "dev", tap, "nodad"])).code).toBe(0);
        const global = await ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.1", "-W", "2", "2001:db8::2"], { timeoutMs: 10_000 });
        expect(global.stdout).toMatch(/3 packets transmitted, 3 received/);
        const ll = String(linkLocal!["address"]).split("/")[0]!;
        const viaLinkLocal = await ns.exec("ping", ["-6", "-n", "-c", "2", "-i", "0.1", "-W", "2", `${ll}%${tap}`], { timeoutMs: 10_000 });
        expect(viaLinkLocal.stdout).toMatch(/2 packets transmitted, 2 received/);
        await waitUntil(
          () => events().some((e) => e["event"] === "counters" && (e["icmpv6.echoRepliesSent"] as number) >= 5),
          5000,
          "counters showing 5 ICMPv6 echo replies",
        );
        // The v4 side still answers beside it, and the same files are served over both families.
        const v4 = await ns.exec("ping", ["-n", "-c", "1", "-W", "2", "192.0.2.2"], { timeoutMs: 10_000 });
        expect(v4.stdout).toMatch(/1 packets transmitted, 1 received/);
        for (const url of ["http://[2001:db8::2]/hello.txt", "http://192.0.2.2/hello.txt"]) {
          const curl = await ns.exec("curl", ["-sS", "-g", "--max-time", "5", url], { timeoutMs: 10_000 });
          expect(curl.stdout, curl.stderr).toBe("hello over IPv6\n");
        }
        child.kill("SIGINT");
        expect(await exited).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    });
    rmSync(root, { recursive: true, force: true });
  });

  it("--slaac: a v6-only stack autoconfigures from dnsmasq's RAs on the kernel side, reports the address (family ipv6, origin slaac, the router) and answers ping6 on it", async () => {
    const tap = tapName();
    await withNetns(async (ns) => {
      const { child, exited, events, stdout, stderr } = startAttachChild([
        "--tap",
        tap,
        "--netns",
        ns.name,
        "--peer",
        "192.0.2.1/24",
        "--slaac",
        "--stats-interval",
        "0",
        "--json",
      ]);
      let dnsmasq: { stop(): Promise<unknown> } | undefined;
      try {
        await waitUntil(() => events().some((e) => e["event"] === "attached"), 10_000, `attach to come up (stderr: ${stderr()})`);
        // The tap is in the namespace and up (--peer) once attach says "attached".
        expect((await ns.exec("ip", ["-6", "addr", "add", "2001:db8:1::1/64", "dev", tap, "nodad"])).code).toBe(0);
        dnsmasq = ns.spawn("dnsmasq", [
          "--no-daemon",
          "--conf-file=/dev/null",
          "--port=0",
          `--interface=${tap}`,
          "--bind-interfaces",
          "--enable-ra",
          "--dhcp-range=2001:db8:1::,ra-only,64,1h",
        ]);
        await waitUntil(
          () => events().some((e) => e["event"] === "address" && e["origin"] === "slaac"),
          20_000,
          `a SLAAC address from dnsmasq's RA (stdout: ${stdout()})`,
        );
        const slaac = events().find((e) => e["event"] === "address" && e["origin"] === "slaac")!;
        expect(slaac).toMatchObject({ family: "ipv6" });
        expect(slaac["address"]).toMatch(/^2001:db8:1:0:[0-9a-f:]+\/64$/);
        expect(slaac["router"]).toMatch(/^fe80::/);
        expect(events().some((e) => e["family"] === "ipv4")).toBe(false);
        const ping = await ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.1", "-W", "2", String(slaac["address"]).split("/")[0]!], { timeoutMs: 10_000 });
        expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
        child.kill("SIGINT");
        expect(await exited).toBe(0);
      } finally {
        await dnsmasq?.stop();
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    });
  });

  it("creates a missing namespace for the tap and removes it again on SIGTERM", async () => {
    const nsName = `nl-test-${process.pid}-attach-own`;
    const { child, exited, stdout } = startAttachChild(["--tap", tapName(), "--netns", nsName, "--ip", "192.0.2.2/24", "--stats-interval", "0"]);
    try {
      await waitUntil(() => stdout().includes("address 192.0.2.2/24"), 10_000, "attach to come up");
      expect(existsSync(`/run/netns/${nsName}`)).toBe(true);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(stdout()).toMatch(/stopped \(SIGTERM\)/);
      expect(existsSync(`/run/netns/${nsName}`)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      spawnSync("ip", ["netns", "del", nsName], { stdio: "ignore" });
    }
  });

  it("with --dhcp and --offloads leases an address from dnsmasq, serves curl on it, and sends DHCP RELEASE on SIGINT", async () => {
    const tap = tapName();
    await withNetns(async (ns) => {
      // The tap appears in the namespace only once attach has moved it there: dnsmasq starts after.
      const { child, exited, events, stdout } = startAttachChild([
        "--tap",
        tap,
        "--netns",
        ns.name,
        "--peer",
        "192.0.2.1/24",
        "--dhcp",
        "--offloads",
        "--http-root",
        ROOT,
        "--stats-interval",
        "0",
        "--json",
      ]);
      try {
        await waitUntil(() => stdout().includes(`"event":"attached"`), 10_000, "attach to open the tap");
        const dnsmasq = ns.spawn("dnsmasq", [
          "--no-daemon",
          "--conf-file=/dev/null",
          "--port=0",
          `--interface=${tap}`,
          "--bind-interfaces",
          "--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h",
          "--dhcp-leasefile=/dev/null",
          "--log-dhcp",
          "--log-facility=-",
          "--user=root",
          "--no-ping",
        ]);
        await waitUntil(
          () => events().some((e) => e["event"] === "address"),
          20_000,
          "a DHCP lease (DISCOVER retransmits after 4 s; RFC 5227 probing takes ~5 s)",
        );
        const address = String(events().find((e) => e["event"] === "address")!["address"]).split("/")[0]!;
        expect(address).toMatch(/^192\.0\.2\.1\d\d$/);
        const curl = await ns.exec(
          "curl",
          ["-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", `http://${address}/package.json`],
          { timeoutMs: 15_000 },
        );
        expect(curl.stdout).toBe(`200 ${statSync(join(ROOT, "package.json")).size}`);
        child.kill("SIGINT");
        expect(await exited).toBe(0);
        await dnsmasq.waitFor(new RegExp(`DHCPRELEASE\\(${tap}\\) ${address.replaceAll(".", "\\.")} `), 5000);
        expect(events().find((e) => e["event"] === "stopped")).toMatchObject({ reason: "SIGINT", "http.requests": 1 });
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    });
  });

  it("--ping --count --interval ends by itself with ping's summary and exit status (0 with replies, 1 without); --seed is the stack's seed", async () => {
    await withNetns(async (ns) => {
      const run = (target: string) =>
        runAttach([
          "--tap",
          tapName(),
          "--netns",
          ns.name,
          "--peer",
          "192.0.2.1/24",
          "--ip",
          "192.0.2.2/24",
          "--ping",
          target,
          "--count",
          "3",
          "--interval",
          "0.2",
          "--seed",
          "7",
          "--stats-interval",
          "0",
        ]);
      const up = await run("192.0.2.1");
      expect(up.code).toBe(0);
      expect(up.stdout).toContain("rng seed 7");
      expect(up.stdout).toMatch(/stopped \(ping count reached\)/);
      expect(up.stdout).toMatch(
        /--- 192\.0\.2\.1 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time \d+ms\nrtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms\n$/,
      );
      const down = await run("192.0.2.99");
      expect(down.code).toBe(1);
      expect(down.stdout).toMatch(/3 packets transmitted, 0 received, 100% packet loss, time \d+ms\n$/);
    });
  });

  it("on SIGINT ends the connections peers still hold open (FIN, then RST) before the tap closes", async () => {
    const tap = tapName();
    await withNetns(async (ns) => {
      const { child, exited, stdout } = startAttachChild([
        "--tap",
        tap,
        "--netns",
        ns.name,
        "--peer",
        "192.0.2.1/24",
        "--ip",
        "192.0.2.2/24",
        "--http-root",
        ROOT,
        "--stats-interval",
        "0",
        "--json",
      ]);
      try {
        await waitUntil(() => stdout().includes(`"event":"address"`), 10_000, "attach to come up");
        // A client that sent half a request and waits: what does it get when attach stops?
        const client = ns.spawn("python3", [
          "-u",
          "-c",
          [
            "import socket",
            "s = socket.create_connection(('192.0.2.2', 80), timeout=10)",
            "s.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\n')",
            "print('connected')",
            "try:",
            "  d = s.recv(100)",
            "  print('eof' if d == b'' else 'data')",
            "except ConnectionResetError:",
            "  print('reset')",
            "except socket.timeout:",
            "  print('timeout')",
          ].join("\n"),
        ]);
        await client.waitFor(/connected/, 10_000);
        child.kill("SIGINT");
        expect(await exited).toBe(0);
        await client.waitFor(/eof|reset|timeout/, 10_000);
        expect(client.output().stdout).toMatch(/eof|reset/);
        const stopped = stdout()
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((e) => e["event"] === "stopped");
        expect(stopped).toMatchObject({ reason: "SIGINT", connectionsOpen: 1 });
        expect((stopped!["connectionsClosed"] as number) + (stopped!["connectionsReset"] as number)).toBe(1);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    });
  });

  it("over IPv6: --ping a kernel global and link-local address (ping's lines, summary and exit status, from a dual and a v6-only stack); --peer v6 CIDRs, repeated beside a v4 one, are configured and reachable", async () => {
    await withNetns(async (ns) => {
      // Dual stack: the kernel end gets a v4, a global v6 and a second link-local address (nodad).
      const dual = ["--ip", "192.0.2.2/24", "--ip", "2001:db8::2/64", "--peer", "192.0.2.1/24", "--peer", "2001:db8::1/64", "--peer", "fe80::1/64"];
      const counted = ["--count", "3", "--interval", "0.2", "--stats-interval", "0"];
      const global = await runAttach(["--tap", tapName(), "--netns", ns.name, ...dual, "--ping", "2001:db8::1", ...counted]);
      expect(global.code, global.stdout).toBe(0);
      expect(global.stdout.match(/^ping 2001:db8::1 seq=\d time=[\d.]+ ms$/gm)).toHaveLength(3);
      expect(global.stdout).toMatch(
        /stopped \(ping count reached\)[^\n]*echo6 in\/out 0\/3[^\n]*\n--- 2001:db8::1 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time \d+ms\nrtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms\n$/,
      );
      const tap = tapName();
      // Nobody there, from a v6-only stack: ping's exit status 1.
      const down = await runAttach([
        "--tap",
        tap,
        "--netns",
        ns.name,
        "--ip",
        "2001:db8::2/64",
        "--peer",
        "2001:db8::1/64",
        "--ping",
        "2001:db8::99",
        "--count",
        "2",
        "--interval",
        "0.2",
      ]);
      expect(down.code, down.stdout).toBe(1);
      expect(down.stdout).toMatch(/--- 2001:db8::99 ping statistics ---\n2 packets transmitted, 0 received, 100% packet loss, time \d+ms\n$/);

      // While pinging without --count: the kernel end holds both --peer families and reaches the stack over each.
      const { child, exited, events } = startAttachChild([
        "--tap",
        tap,
        "--netns",
        ns.name,
        ...dual,
        "--ping",
        "fe80::1",
        "--interval",
        "0.2",
        "--stats-interval",
        "0",
        "--json",
      ]);
      try {
        await waitUntil(() => events().some((e) => e["event"] === "ping" && typeof e["rttMs"] === "number"), 10_000, "an ICMPv6 echo reply from the kernel");
        expect(events().find((e) => e["event"] === "ping")).toMatchObject({ family: "ipv6", target: "fe80::1", seq: 1 });
        const shown = await ns.exec("ip", ["addr", "show", "dev", tap]);
        for (const a of ["192.0.2.1/24", "2001:db8::1/64", "fe80::1/64"]) expect(shown.stdout).toContain(`inet${a.includes(":") ? "6" : ""} ${a}`);
        const v6 = await ns.exec("ping", ["-6", "-n", "-c", "2", "-i", "0.1", "-W", "2", "2001:db8::2"], { timeoutMs: 10_000 });
        expect(v6.stdout).toMatch(/2 packets transmitted, 2 received/);
        const v4 = await ns.exec("ping", ["-n", "-c", "2", "-i", "0.1", "-W", "2", "192.0.2.2"], { timeoutMs: 10_000 });
        expect(v4.stdout).toMatch(/2 packets transmitted, 2 received/);
        child.kill("SIGINT");
        expect(await exited).toBe(0);
        const summary = events().find((e) => e["event"] === "ping-summary");
        expect(summary).toMatchObject({ family: "ipv6", target: "fe80::1", lossPercent: 0 });
        expect(summary!["received"] as number).toBeGreaterThanOrEqual(1);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    });
  });

  it("exits with a coded error for a taken name, and with usage for bad arguments", () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, "attach", ...args], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    const taken = run("--tap", "lo", "--ip", "192.0.2.2/24");
    expect(taken.status).toBe(1);
    expect(taken.stderr).toContain("[TAP_NAME_TAKEN]");
    const usage = run("--tap", "x", "--ip", "192.0.2.2/24", "--dhcp");
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("give only one of an IPv4 --ip and --dhcp");
  });
});
