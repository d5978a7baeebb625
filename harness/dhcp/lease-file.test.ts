import { describe, it, expect, afterEach } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { createVirtualClock, createRng } from "../../stack/time.ts";
import { createDhcpServer } from "../../stack/app/dhcp/server.ts";
import { createDhcpClient } from "../../stack/app/dhcp/client.ts";
import { createUdpSegment } from "../../stack/app/dhcp/test-helpers.ts";
import type { DhcpServerConfig } from "../../stack/app/dhcp/types.ts";
import { createLeaseFile, parseLeaseFile } from "./lease-file.ts";

const ip = (s: string): number => s.split(".").reduce((a, x) => a * 256 + Number(x), 0) >>> 0;
const SERVER = ip("192.0.2.1");
const CONFIG: DhcpServerConfig = {
  pools: [
    { subnet: { address: ip("192.0.2.0"), prefixLength: 24 }, rangeStart: ip("192.0.2.100"), rangeEnd: ip("192.0.2.119"), gateway: SERVER, leaseTime: 600 },
  ],
};

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});
const tmp = (): string => (dir = mkdtempSync(join(tmpdir(), "netlab-dhcp-leases-")));

describe("createLeaseFile()", () => {
  it("persists every put and remove as a whole JSON file, with no temp file left behind", () => {
    const path = join(tmp(), "leases.json");
    const store = createLeaseFile(path);
    store.put({ address: ip("192.0.2.100"), client: "id:01aa", state: "bound", expiresAt: 5000, hostName: "a" });
    store.put({ address: ip("192.0.2.101"), client: "", state: "declined", expiresAt: 9000 });
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
      version: 1,
      leases: [
        { address: "192.0.2.100", client: "id:01aa", state: "bound", expiresAt: 5000, hostName: "a" },
        { address: "192.0.2.101", client: "", state: "declined", expiresAt: 9000 },
      ],
    });
    expect(existsSync(`${path}.tmp`)).toBe(false);
    store.remove(ip("192.0.2.101"));
    expect(createLeaseFile(path).load()).toEqual([{ address: ip("192.0.2.100"), client: "id:01aa", state: "bound", expiresAt: 5000, hostName: "a" }]);
  });

  it("ignores a stale temp file from a crash between write and rename", () => {
    const path = join(tmp(), "leases.json");
    createLeaseFile(path).put({ address: ip("192.0.2.100"), client: "hw:1:aa", state: "bound", expiresAt: 1 });
    writeFileSync(`${path}.tmp`, "{ half-writ");
    expect(
      createLeaseFile(path)
        .load()
        .map((l) => l.client),
    ).toEqual(["hw:1:aa"]);
  });

  it("refuses a corrupt file with ERR_DHCP_LEASE_FILE instead of starting empty", () => {
    const path = join(tmp(), "leases.json");
    writeFileSync(path, '{"version":1,"leases":[{"address":"192.0.2"}]}');
    expect(() => createLeaseFile(path)).toThrow(expect.objectContaining({ code: "ERR_DHCP_LEASE_FILE" }));
  });
});

describe("parseLeaseFile()", () => {
  it.each([
    ["not JSON", "{", "bad-json"],
    ["another version", '{"version":2,"leases":[]}', "bad-version"],
    ["a bad state", '{"version":1,"leases":[{"address":"192.0.2.1","client":"x","state":"free","expiresAt":1}]}', "bad-lease"],
    ["a string expiry", '{"version":1,"leases":[{"address":"192.0.2.1","client":"x","state":"bound","expiresAt":"1"}]}', "bad-lease"],
  ])("rejects %s", (_n, text, code) => {
    const r = parseLeaseFile(text);
    expect(!r.ok && r.error).toBe(code);
  });
});

describe("a DHCP server restarted over the same lease file", () => {
  it("keeps every lease: old clients renew their addresses and new clients get other ones", () => {
    const path = join(tmp(), "leases.json");
    const clock = createVirtualClock();
    const seg = createUdpSegment(clock);
    const serverHost = seg.attach("server", { address: SERVER, prefixLength: 24 });
    let server = createDhcpServer({ clock, udp: serverHost.udp, ipv4: serverHost.ipv4, store: createLeaseFile(path) }, CONFIG);
    const rng = createRng(11);
    const clients = Array.from({ length: 6 }, (_, i) => {
      const host = seg.attach(`c${i}`);
      const client = createDhcpClient({ clock, rng, udp: host.udp, ipv4: host.ipv4, mac: 0x020000000100 + i }, { initDelayMinMs: 0, initDelayMaxMs: 100 });
      return { host, client };
    });
    for (const c of clients.slice(0, 3)) c.client.start();
    clock.run(5_000);
    const before = clients.slice(0, 3).map((c) => c.client.lease!.address);
    expect(new Set(before).size).toBe(3);

    // Crash: the server object is dropped without any shutdown; a new one reads the file.
    server.close();
    server = createDhcpServer({ clock, udp: serverHost.udp, ipv4: serverHost.ipv4, store: createLeaseFile(path) }, CONFIG);
    expect(
      server
        .leases()
        .map((l) => l.address)
        .sort(),
    ).toEqual([...before].sort());

    for (const c of clients.slice(3)) c.client.start();
    clock.run(clock.now() + 5_000);
    const after = clients.slice(3).map((c) => c.client.lease!.address);
    for (const a of after) expect(before).not.toContain(a);
    expect(new Set([...before, ...after]).size).toBe(6);

    // Old clients renew at T1 against the new server and keep their addresses.
    clock.run(clock.now() + 400_000);
    expect(clients.slice(0, 3).map((c) => c.client.lease!.address)).toEqual(before);
    expect(clients.slice(0, 3).every((c) => c.client.state === "bound" && c.client.lease!.acquiredAt > 300_000)).toBe(true);
    expect(server.stats.naks).toBe(0);
  });
});
