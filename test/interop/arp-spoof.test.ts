// ARP spoofing over a real tap, side by side with the kernel (issue 19 item 7). A raw socket in
// the namespace sends a gratuitous ARP request claiming the kernel's address for a MAC nobody
// has; netlab must refuse it while TCP to the kernel makes progress (lock time + confirmation)
// and, when it took it during a quiet spell, go back to the kernel's MAC within seconds of the
// next use (NUD: DELAY, unicast probes, broadcast). The same spoof of netlab's address, sent
// to the kernel, shows Linux's own behaviour: a gratuitous ARP overrides even inside locktime,
// and NUD restores the entry after DELAY_FIRST_PROBE_TIME plus the unicast probes.
import { describe, expect, it } from "vitest";
import { createStack } from "../../stack/index.ts";
import { unwrap } from "../../stack/result.ts";
import type { TcpStream } from "../../stack/transport/types.ts";
import { BROADCAST_MAC, formatMac, parseMac, type MacAddress } from "../../stack/wire/address.ts";
import { emitArp } from "../../stack/wire/arp.ts";
import { ETHERTYPE_ARP, emitEthernet } from "../../stack/wire/ethernet.ts";
import { createSeededRng } from "../../harness/time/real-clock.ts";
import { announceSkip, hex, interopSkipReason, waitUntil, withTapLab, type TapLab } from "./support.ts";

const skip = announceSkip("ARP spoofing interop", interopSkipReason(["python3", "tcpdump"]));
const KERNEL = 0xc0000201;
const NETLAB = 0xc0000202;
const FAKE_MAC = 0x02badbadbad0;

function report(line: string): void {
  process.stderr.write(`[interop] ${line}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A gratuitous ARP request: "ip is at mac", broadcast. */
function gratuitous(ip: number, mac: MacAddress): Uint8Array {
  const f = new Uint8Array(42);
  emitEthernet({ dst: BROADCAST_MAC, src: mac, ethertype: ETHERTYPE_ARP }, f);
  emitArp({ operation: "request", senderMac: mac, senderIp: ip, targetMac: 0, targetIp: ip }, f, 14);
  return f;
}

const PY_RAW_SEND = "import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind((sys.argv[1],0))\ns.send(bytes.fromhex(sys.argv[2]))";

const PY_ECHO_SERVER = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", 5007)); s.listen(1); s.settimeout(60)
print("ready", flush=True)
c, a = s.accept(); c.settimeout(60)
while True:
    d = c.recv(4096)
    if not d: break
    c.sendall(d)
`;

/** A kernel client of netlab's echo service: a 10-byte request every 100 ms for 25 s. */
const PY_ECHO_CLIENT = `
import socket, time
c = socket.create_connection(("192.0.2.2", 5008), timeout=60)
print("connected", flush=True)
end = time.time() + 25
while time.time() < end:
    t = time.time(); c.sendall(b"x" * 10); got = 0
    while got < 10: got += len(c.recv(100))
    print("echo %.3f" % (time.time() - t), flush=True)
    time.sleep(0.1)
`;

async function spoofFromNamespace(lab: TapLab): Promise<void> {
  await lab.ns.execChecked("python3", ["-c", PY_RAW_SEND, lab.ifname, hex(gratuitous(KERNEL, FAKE_MAC))]);
}

async function kernelNeighbour(lab: TapLab): Promise<string> {
  const out = JSON.parse(await lab.ns.ip("-j", "neigh", "show", "to", "192.0.2.2", "dev", lab.ifname)) as Array<{ lladdr?: string; state?: string[] }>;
  return `${out[0]?.lladdr ?? "-"} ${(out[0]?.state ?? []).join(",")}`;
}

describe.skipIf(skip)("ARP spoofing over a tap: netlab and the kernel", () => {
  it("netlab refuses a spoofed gratuitous ARP for the kernel while TCP makes progress, and recovers from one taken while idle within 10 s", async () => {
    await withTapLab("arp spoof netlab", { snaplen: 96 }, async (lab) => {
      const changes: string[] = [];
      const stack = createStack(
        { device: lab.device, clock: lab.clock, rng: createSeededRng() },
        {
          ipv4: { cidr: "192.0.2.2/24" },
          arp: { onAddressChange: (_ip, from, to) => changes.push(`${formatMac(from)}>${formatMac(to)}`) },
        },
      );
      const kernelMac = unwrap(parseMac(lab.kernelMac));
      const server = lab.spawn("python3", ["-c", PY_ECHO_SERVER]);
      await server.waitFor(/ready/);
      const stream: TcpStream = unwrap(stack.tcp.connect(KERNEL, 5007));
      let echoed = 0;
      stream.onData((d) => {
        echoed += d.length;
      });
      await new Promise<void>((resolve, reject) => {
        stream.onConnect(resolve);
        setTimeout(() => reject(new Error("connect timed out")), 5000);
      });
      const arp = () => stack.counters().arp as Record<string, number>;

      // Traffic in flight: a request every 100 ms; the spoof comes in the middle.
      const timer = setInterval(() => stream.write(new Uint8Array(10).fill(0x61)), 100);
      await sleep(1000);
      await spoofFromNamespace(lab);
      await sleep(1000);
      clearInterval(timer);
      expect(stack.arp.lookup(KERNEL)).toBe(kernelMac);
      expect(arp()).toMatchObject({ addressChanges: 0 });
      expect(arp().lockRefused).toBeGreaterThanOrEqual(1);

      // Idle for longer than the lock time: the spoof is taken (and reported).
      await sleep(1500);
      await spoofFromNamespace(lab);
      await waitUntil(() => stack.arp.lookup(KERNEL) === FAKE_MAC, 2000, "the spoofed entry");
      expect(changes).toEqual([`${lab.kernelMac}>${formatMac(FAKE_MAC)}`]);
      const before = echoed;
      const start = performance.now();
      stream.write(new Uint8Array(10).fill(0x62));
      await waitUntil(() => stack.arp.lookup(KERNEL) === kernelMac, 15_000, "the kernel's MAC back", 20);
      const restoredMs = performance.now() - start;
      await waitUntil(() => echoed >= before + 10, 30_000, "the echo after recovery", 20);
      const echoMs = performance.now() - start;
      report(
        `netlab under a spoofed gratuitous ARP for the kernel: refused while TCP flowed (lockRefused ${arp().lockRefused}); taken while idle, kernel's MAC back ${(restoredMs / 1000).toFixed(1)} s after the next write (echo after ${(echoMs / 1000).toFixed(1)} s); unicast probes ${arp().unicastProbesSent}, addressChanges ${arp().addressChanges}`,
      );
      expect(restoredMs).toBeLessThan(10_000);
      stream.end();
      await server.stop();
    });
  }, 60_000);

  it("the kernel, sent the same spoof of netlab's address: overridden even with traffic flowing, restored by NUD (reported, for comparison)", async () => {
    await withTapLab("arp spoof kernel", { snaplen: 96 }, async (lab) => {
      const stack = createStack({ device: lab.device, clock: lab.clock, rng: createSeededRng() }, { ipv4: { cidr: "192.0.2.2/24" } });
      const ours = formatMac(lab.device.mac);
      const listener = unwrap(stack.tcp.listen(5008));
      listener.onConnection((s) => s.onData((d) => s.write(d.slice())));
      const client = lab.spawn("python3", ["-c", PY_ECHO_CLIENT]);
      await client.waitFor(/connected/);
      await client.waitFor(/echo/);
      // Traffic in flight (a request every 100 ms); the spoof comes after netlab's own two
      // announcements (RFC 5227 §2.3, 2 s apart), which would otherwise repair the entry.
      await sleep(3000);
      lab.device.send({ data: gratuitous(NETLAB, FAKE_MAC) });
      await sleep(300);
      const duringTraffic = await kernelNeighbour(lab);
      let restoredMs = -1;
      const start = performance.now();
      while (performance.now() - start < 20_000) {
        if ((await kernelNeighbour(lab)).startsWith(ours)) {
          restoredMs = performance.now() - start;
          break;
        }
        await sleep(100);
      }
      report(
        `kernel under a spoofed gratuitous ARP for netlab, traffic flowing: entry 0.3 s later "${duringTraffic}", netlab's MAC back after ${restoredMs < 0 ? "more than 20" : (restoredMs / 1000 + 0.3).toFixed(1)} s`,
      );
      expect(duringTraffic.startsWith(formatMac(FAKE_MAC))).toBe(true);
      expect(restoredMs).toBeGreaterThan(0);
      await client.stop();
    });
  }, 60_000);
});
