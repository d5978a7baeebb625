import { describe, it, expect, afterEach } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { DhcpLease } from "../../stack/app/dhcp/types.ts";
import { createClientLeaseFile } from "./client-lease-file.ts";

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

const LEASE: DhcpLease = {
  address: 0xc0000264,
  prefixLength: 24,
  gateway: 0xc0000201,
  dnsServers: [0xc0000235],
  domainName: "lab.example",
  hostName: undefined,
  broadcastAddress: 0xc00002ff,
  serverId: 0xc0000201,
  leaseTime: 600,
  acquiredAt: 1000,
  renewAt: 301_000,
  rebindAt: 526_000,
  expiresAt: 601_000,
};

describe("createClientLeaseFile()", () => {
  it("saves a lease readably and loads it back equal; clear removes the file", () => {
    dir = mkdtempSync(join(tmpdir(), "netlab-dhcp-client-"));
    const path = join(dir, "lease.json");
    const store = createClientLeaseFile(path);
    store.save(LEASE);
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({
      address: "192.0.2.100",
      serverId: "192.0.2.1",
      dnsServers: ["192.0.2.53"],
      expiresAt: 601000,
    });
    expect(createClientLeaseFile(path).load()).toEqual(LEASE);
    store.clear();
    expect(existsSync(path)).toBe(false);
    expect(store.load()).toBeUndefined();
  });

  it("keeps an infinite lease infinite and reads a damaged file as no lease", () => {
    dir = mkdtempSync(join(tmpdir(), "netlab-dhcp-client-"));
    const path = join(dir, "lease.json");
    const store = createClientLeaseFile(path);
    const forever = { ...LEASE, leaseTime: 0xffffffff, renewAt: Infinity, rebindAt: Infinity, expiresAt: Infinity };
    store.save(forever);
    expect(store.load()).toEqual(forever);
    writeFileSync(path, '{"address":"192.0.2"}');
    expect(store.load()).toBeUndefined();
    writeFileSync(path, "not json");
    expect(store.load()).toBeUndefined();
  });
});
