import { afterEach, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { createDevicePair } from "../../stack/link/pair.ts";
import { createRng, createVirtualClock } from "../../stack/time.ts";
import { createStack } from "../../stack/index.ts";
import { formatIpv6, ipv6 } from "../../stack/wire/ipv6-address.ts";
import { dhcp6ClientOnStack, dhcp6ServerOnStack, type Dhcp6ServerConfig } from "../../stack/app/dhcp6/index.ts";
import { createLease6File, parseLease6File } from "./lease6-file.ts";

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});
const tmp = (): string => (dir = mkdtempSync(join(tmpdir(), "netlab-dhcp6-leases-")));

const POOL: Dhcp6ServerConfig = {
  prefix: ipv6("2001:db8::"),
  prefixLength: 64,
  rangeStart: ipv6("2001:db8::100"),
  rangeEnd: ipv6("2001:db8::1ff"),
  preferredLifetime: 100,
  validLifetime: 200,
};

describe("createLease6File()", () => {
  it("persists puts and removes as one JSON file (null for an infinite time), no temp file left", () => {
    const path = join(tmp(), "leases6.json");
    const store = createLease6File(path);
    store.put({ address: ipv6("2001:db8::101"), duid: "00030001020000000002", iaid: 2, state: "bound", preferredUntil: 5000, validUntil: Infinity });
    store.put({ address: ipv6("2001:db8::100"), duid: "", iaid: 0, state: "declined", preferredUntil: 0, validUntil: 9000 });
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
      version: 1,
      leases: [
        { address: "2001:db8::100", duid: "", iaid: 0, state: "declined", preferredUntil: 0, validUntil: 9000 },
        { address: "2001:db8::101", duid: "00030001020000000002", iaid: 2, state: "bound", preferredUntil: 5000, validUntil: null },
      ],
    });
    expect(existsSync(`${path}.tmp`)).toBe(false);
    store.remove(ipv6("2001:db8::100"));
    expect(
      createLease6File(path)
        .load()
        .map((l) => [formatIpv6(l.address), l.validUntil]),
    ).toEqual([["2001:db8::101", Infinity]]);
  });

  it.each([
    ["not JSON", "{", "bad-json"],
    ["another version", '{"version":2,"leases":[]}', "bad-version"],
    ["a v4 address", '{"version":1,"leases":[{"address":"192.0.2.1","duid":"","iaid":0,"state":"bound","preferredUntil":0,"validUntil":0}]}', "bad-lease"],
    ["an upper-case DUID", '{"version":1,"leases":[{"address":"::1","duid":"AB","iaid":0,"state":"bound","preferredUntil":0,"validUntil":0}]}', "bad-lease"],
    [
      "an IAID over 32 bits",
      '{"version":1,"leases":[{"address":"::1","duid":"","iaid":4294967296,"state":"bound","preferredUntil":0,"validUntil":0}]}',
      "bad-lease",
    ],
    ["a string time", '{"version":1,"leases":[{"address":"::1","duid":"","iaid":0,"state":"bound","preferredUntil":"0","validUntil":0}]}', "bad-lease"],
  ])("rejects %s", (_name, text, code) => {
    const r = parseLease6File(text);
    expect(r.ok ? "ok" : r.error).toBe(code);
  });

  it("refuses to open an unreadable file with ERR_DHCP6_LEASE_FILE", () => {
    const path = join(tmp(), "leases6.json");
    writeFileSync(path, "[]");
    expect(() => createLease6File(path)).toThrow(expect.objectContaining({ code: "ERR_DHCP6_LEASE_FILE" }));
  });

  it("a restarted server answers the client's RENEW from the bindings in the file", () => {
    const path = join(tmp(), "leases6.json");
    const clock = createVirtualClock();
    const pair = createDevicePair(clock, { latencyMs: 1 });
    const server = createStack({ device: pair.a, clock, rng: createRng(1) }, { ipv6: { addresses: ["2001:db8::1/64"], routerSolicitations: false } });
    const client = createStack({ device: pair.b, clock, rng: createRng(2) }, { ipv6: { routerSolicitations: false } });
    clock.run(clock.now() + 3000);
    const first = dhcp6ServerOnStack(server, POOL, createLease6File(path));
    const c = dhcp6ClientOnStack(client);
    c.start();
    clock.run(clock.now() + 5000);
    const lease = c.lease!;
    first.close();
    const second = dhcp6ServerOnStack(server, POOL, createLease6File(path));
    clock.run(lease.renewAt + 1000);
    expect(c.state).toBe("bound");
    expect(second.stats).toMatchObject({ renews: 1, replies: 1 });
    expect(c.lease!.address).toEqual(lease.address);
    expect(c.lease!.renewAt).toBeGreaterThan(lease.renewAt);
    // The file holds the extended binding (the server's clock reading: the REPLY reached the client 1 ms later).
    const onDisk = createLease6File(path).load();
    expect(onDisk).toEqual(second.leases());
    expect(onDisk.map((l) => [formatIpv6(l.address), l.validUntil])).toEqual([[formatIpv6(lease.address), c.lease!.validUntil - 1]]);
  });
});
