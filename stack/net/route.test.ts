import { describe, expect, it } from "vitest";
import { unwrap } from "../result.ts";
import { parseCidr, parseIpv4 } from "../wire/address.ts";
import { createRoutingTable } from "./route.ts";

const cidr = (s: string) => unwrap(parseCidr(s));
const ip = (s: string) => unwrap(parseIpv4(s));

describe("routing table", () => {
  it("lookup() picks the longest matching prefix, the default route last", () => {
    const t = createRoutingTable();
    t.add({ destination: cidr("0.0.0.0/0"), interfaceIndex: 0, nextHop: ip("192.0.2.1") });
    t.add({ destination: cidr("10.0.0.0/8"), interfaceIndex: 1, nextHop: ip("192.0.2.2") });
    t.add({ destination: cidr("10.1.0.0/16"), interfaceIndex: 2 });
    t.add({ destination: cidr("10.1.2.3/32"), interfaceIndex: 3 });
    expect(t.lookup(ip("10.1.2.3"))?.interfaceIndex).toBe(3);
    expect(t.lookup(ip("10.1.2.4"))?.interfaceIndex).toBe(2);
    expect(t.lookup(ip("10.2.0.1"))?.interfaceIndex).toBe(1);
    expect(t.lookup(ip("8.8.8.8"))).toEqual({ prefix: 0, prefixLength: 0, interfaceIndex: 0, nextHop: ip("192.0.2.1"), kind: "default", metric: 0 });
  });

  it("lookup() is undefined without a matching route and a default", () => {
    const t = createRoutingTable();
    t.add({ destination: cidr("10.0.0.0/8"), interfaceIndex: 0 });
    expect(t.lookup(ip("11.0.0.1"))).toBeUndefined();
  });

  it("add() masks the destination and names the kind; the lower metric wins among equal prefixes", () => {
    const t = createRoutingTable();
    const r = t.add({ destination: cidr("10.1.2.3/16"), interfaceIndex: 0 });
    expect(r).toEqual({ prefix: ip("10.1.0.0"), prefixLength: 16, interfaceIndex: 0, kind: "connected", metric: 0 });
    t.add({ destination: cidr("10.1.0.0/16"), interfaceIndex: 1, nextHop: ip("192.0.2.9"), metric: 5 });
    t.add({ destination: cidr("10.1.0.0/16"), interfaceIndex: 2, nextHop: ip("192.0.2.8"), metric: 1 });
    expect(t.lookup(ip("10.1.9.9"))?.interfaceIndex).toBe(0);
    expect(t.remove(cidr("10.1.0.0/16"), 0)).toBe(1);
    expect(t.lookup(ip("10.1.9.9"))?.interfaceIndex).toBe(2);
    expect(t.format()).toEqual(["10.1.0.0/16 via 192.0.2.8 dev if2 static metric 1", "10.1.0.0/16 via 192.0.2.9 dev if1 static metric 5"]);
    expect(t.remove(cidr("10.1.0.0/16"))).toBe(2);
    expect(t.lookup(ip("10.1.9.9"))).toBeUndefined();
  });
});
