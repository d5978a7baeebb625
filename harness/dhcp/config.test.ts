import { describe, it, expect } from "vitest";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { parseDhcpServerConfig, loadDhcpServerConfig, EXAMPLE_DHCP_CONFIG } from "./config.ts";

const ip = (s: string): number => s.split(".").reduce((a, x) => a * 256 + Number(x), 0) >>> 0;
const clone = (): any => structuredClone(EXAMPLE_DHCP_CONFIG);

describe("parseDhcpServerConfig()", () => {
  it("turns the example into a server configuration with addresses as numbers and holds in ms", () => {
    const r = parseDhcpServerConfig(clone());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { server, leaseFile } = r.value;
    expect(leaseFile).toBe("leases.json");
    expect(server.serverId).toBe(ip("192.0.2.1"));
    expect(server.offerHoldMs).toBe(30_000);
    expect(server.declineHoldMs).toBe(600_000);
    expect(server.pools[0]).toEqual({
      subnet: { address: ip("192.0.2.0"), prefixLength: 24 },
      rangeStart: ip("192.0.2.100"),
      rangeEnd: ip("192.0.2.199"),
      gateway: ip("192.0.2.1"),
      dnsServers: [ip("192.0.2.53")],
      domainName: "lab.example",
      leaseTime: 3600,
      renewalTime: 1800,
      rebindingTime: 3150,
    });
    expect(server.reservations).toEqual([
      { address: ip("192.0.2.5"), mac: 0x020000000005, hostName: "printer" },
      { address: ip("192.0.2.6"), clientId: Uint8Array.of(1, 2, 0, 0, 0, 0, 6) },
    ]);
  });

  it.each<[string, (c: any) => void, string]>([
    [
      "a bad range start",
      (c) => {
        c.pools[0].range.start = "192.0.2";
      },
      "pools[0].range.start: not an IPv4 address",
    ],
    [
      "a range end outside the subnet",
      (c) => {
        c.pools[0].range.end = "192.0.3.1";
      },
      "pools[0].range.end: not inside 192.0.2.0/24",
    ],
    [
      "a reversed range",
      (c) => {
        c.pools[0].range = { start: "192.0.2.9", end: "192.0.2.8" };
      },
      "pools[0].range: end is before start",
    ],
    [
      "a bad subnet",
      (c) => {
        c.pools[0].subnet = "192.0.2.0/33";
      },
      "pools[0].subnet: not an IPv4 CIDR like 192.0.2.0/24",
    ],
    [
      "a DNS entry that is a number",
      (c) => {
        c.pools[0].dns = ["192.0.2.53", 7];
      },
      "pools[0].dns[1]: not an IPv4 address",
    ],
    [
      "a fractional lease time",
      (c) => {
        c.pools[0].leaseTime = 1.5;
      },
      "pools[0].leaseTime: not an integer",
    ],
    [
      "T2 not after T1",
      (c) => {
        c.pools[0].rebindingTime = 1000;
      },
      "pools[0].rebindingTime: must be greater than renewalTime",
    ],
    [
      "a misspelt field",
      (c) => {
        c.pools[0].gatway = "192.0.2.1";
      },
      "pools[0].gatway: unknown field",
    ],
    [
      "no pools",
      (c) => {
        c.pools = [];
      },
      "pools: needs a non-empty array",
    ],
    [
      "overlapping pools",
      (c) => {
        c.pools.push({ subnet: "192.0.2.0/24", range: { start: "192.0.2.150", end: "192.0.2.250" } });
      },
      "pools[1].range: overlaps pools[0].range",
    ],
    [
      "a reservation with both keys",
      (c) => {
        c.reservations[0].clientId = "01:02";
      },
      "reservations[0]: needs exactly one of mac or clientId",
    ],
    [
      "a bad MAC",
      (c) => {
        c.reservations[0].mac = "02:00:00:00:00";
      },
      "reservations[0].mac: not a MAC address like 02:00:00:00:00:01",
    ],
    [
      "a bad client id",
      (c) => {
        c.reservations[1].clientId = "xyz";
      },
      "reservations[1].clientId: not hex bytes like 01:02:03",
    ],
    [
      "a reservation outside every pool",
      (c) => {
        c.reservations[0].address = "203.0.113.5";
      },
      "reservations[0].address: not inside any pool's subnet",
    ],
    [
      "a doubly reserved address",
      (c) => {
        c.reservations[1].address = "192.0.2.5";
      },
      "reservations[1].address: already reserved by reservations[0]",
    ],
    [
      "maxLeases zero",
      (c) => {
        c.maxLeases = 0;
      },
      "maxLeases: out of range 1..1000000",
    ],
    [
      "authoritative as a string",
      (c) => {
        c.authoritative = "yes";
      },
      "authoritative: not true or false",
    ],
  ])("rejects %s with an error naming the field", (_name, mutate, message) => {
    const c = clone();
    mutate(c);
    const r = parseDhcpServerConfig(c);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.detail).toBe(message);
  });

  it("rejects a non-object document", () => {
    const r = parseDhcpServerConfig([1]);
    expect(!r.ok && r.detail).toBe("(top level): not an object");
  });
});

describe("loadDhcpServerConfig()", () => {
  it("resolves the lease file next to the config and names the file in errors", () => {
    const dir = mkdtempSync(join(tmpdir(), "netlab-dhcp-config-"));
    try {
      const path = join(dir, "dhcp.json");
      writeFileSync(path, JSON.stringify(EXAMPLE_DHCP_CONFIG));
      expect(loadDhcpServerConfig(path).leaseFile).toBe(join(dir, "leases.json"));
      writeFileSync(path, "{ not json");
      expect(() => loadDhcpServerConfig(path)).toThrow(expect.objectContaining({ code: "ERR_DHCP_CONFIG" }));
      const bad = clone();
      bad.pools[0].range.start = "300.0.0.1";
      writeFileSync(path, JSON.stringify(bad));
      expect(() => loadDhcpServerConfig(path)).toThrow(`${path}: pools[0].range.start: not an IPv4 address`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
