// TCP on v6 sockets (stack.tcp6): v6-only by default, dual-stack with ipv6Only: false, with
// Linux's bind conflicts and IPv4-mapped addresses.
import { describe, expect, it } from "vitest";
import { createTwoStacks, A_IP, B_IP } from "../net/test-net.ts";
import { formatIpv6, ipv6 } from "../wire/ipv6-address.ts";
import type { Stack } from "../index.ts";
import type { TcpStream } from "./types.ts";
import { fromIpv4Mapped, ipv4Mapped } from "./tcp6.ts";

/** Dual-stack a (192.0.2.10, 2001:db8::a) and b (192.0.2.11, 2001:db8::b), DAD done. */
function twoStacks() {
  const t = createTwoStacks({
    a: { ipv6: { addresses: ["2001:db8::a/64"], routerSolicitations: false } },
    b: { ipv6: { addresses: ["2001:db8::b/64"], routerSolicitations: false } },
  });
  t.clock.run(t.clock.now() + 3000);
  return t;
}

/** b echoes on its accepted connections; returns what each connection reported (addresses via tcp6.endpointsOf). */
function echoServer(b: Stack, listener: { onConnection(h: (s: TcpStream) => void): void }) {
  const seen: Array<{ local: string; remote: string; ipv4: boolean; localPort: number; remotePort: number }> = [];
  listener.onConnection((s) => {
    const e = b.tcp6!.endpointsOf(s);
    if (e === undefined) throw new Error("no endpoints for an accepted stream");
    seen.push({ local: formatIpv6(e.local), remote: formatIpv6(e.remote), ipv4: e.ipv4, localPort: s.localPort, remotePort: s.remotePort });
    s.onData((d) => s.write(d.slice()));
    s.onEnd(() => s.end());
  });
  return seen;
}

/** Sends `text` on an opened stream and collects the echo. */
function exchange(s: TcpStream, text: string): { got: () => string } {
  let got = "";
  s.onConnect(() => {
    s.write(new TextEncoder().encode(text));
    s.end();
  });
  s.onData((d) => {
    got += new TextDecoder().decode(d);
  });
  return { got: () => got };
}

describe("stack.tcp6: v6-only and dual-stack listeners", () => {
  it("a dual-stack listener (ipv6Only: false) accepts a v4 and a v6 client on one port; the v4 one's addresses are IPv4-mapped", () => {
    const t = twoStacks();
    const l = t.b.tcp6!.listen(8080, { ipv6Only: false });
    if (!l.ok) throw new Error(l.error);
    const seen = echoServer(t.b, l.value);
    const c4 = t.a.tcp.connect(B_IP, 8080);
    const c6 = t.a.tcp6!.connect(ipv6("2001:db8::b"), 8080);
    if (!c4.ok || !c6.ok) throw new Error("connect failed");
    const x4 = exchange(c4.value, "over four");
    const x6 = exchange(c6.value, "over six");
    t.clock.run(t.clock.now() + 5000);
    expect([x4.got(), x6.got()]).toEqual(["over four", "over six"]);
    expect(seen).toEqual([
      { local: "::ffff:192.0.2.11", remote: "::ffff:192.0.2.10", ipv4: true, localPort: 8080, remotePort: c4.value.localPort },
      { local: "2001:db8::b", remote: "2001:db8::a", ipv4: false, localPort: 8080, remotePort: c6.value.localPort },
    ]);
    // The client's own view of its v6 stream.
    expect(t.a.tcp6!.endpointsOf(c6.value)).toMatchObject({ ipv4: false });
    expect(formatIpv6(t.a.tcp6!.endpointsOf(c6.value)!.local)).toBe("2001:db8::a");
    // A v4 stream that did not come through a v6 socket has no v6 endpoints.
    expect(t.a.tcp6!.endpointsOf(c4.value)).toBeUndefined();
  });

  it("while dual-stack, the port is taken in both families (Linux: EADDRINUSE); after close() both are free", () => {
    const t = twoStacks();
    const l = t.b.tcp6!.listen(80, { ipv6Only: false });
    if (!l.ok) throw new Error(l.error);
    expect(t.b.tcp.listen(80)).toMatchObject({ ok: false, error: "in-use" });
    expect(t.b.tcp6!.listen(80)).toMatchObject({ ok: false, error: "in-use" });
    l.value.close();
    const four = t.b.tcp.listen(80);
    expect(four.ok).toBe(true);
    // ...and a dual-stack listener is refused on a port an IPv4 listener holds, leaving the v6 port free.
    expect(t.b.tcp6!.listen(80, { ipv6Only: false })).toMatchObject({ ok: false, error: "in-use" });
    expect(t.b.tcp6!.listen(80).ok).toBe(true);
  });

  it("v6-only (the default) leaves the IPv4 port to its own listener: a v4 SYN to it goes to that listener, not the v6 one", () => {
    const t = twoStacks();
    const six = t.b.tcp6!.listen(80);
    const four = t.b.tcp.listen(80);
    if (!six.ok || !four.ok) throw new Error("listen failed");
    const seen6 = echoServer(t.b, six.value);
    let accepted4 = 0;
    four.value.onConnection((s) => {
      accepted4++;
      s.destroy();
    });
    const c = t.a.tcp.connect(B_IP, 80);
    if (!c.ok) throw new Error(c.error);
    t.clock.run(t.clock.now() + 5000);
    expect(accepted4).toBe(1);
    expect(seen6).toEqual([]);
  });

  it("an ephemeral dual-stack listener gets a port free in both families", () => {
    const t = twoStacks();
    const l = t.b.tcp6!.listen(0, { ipv6Only: false });
    if (!l.ok) throw new Error(l.error);
    expect(l.value.localPort).toBeGreaterThan(0);
    expect(t.b.tcp.listen(l.value.localPort)).toMatchObject({ ok: false, error: "in-use" });
    expect(t.b.tcp6!.listen(l.value.localPort)).toMatchObject({ ok: false, error: "in-use" });
  });

  it("connect() to an IPv4-mapped address goes over IPv4 with ipv6Only: false and is no-route by default (Linux: ENETUNREACH)", () => {
    const t = twoStacks();
    const four = t.b.tcp.listen(7);
    if (!four.ok) throw new Error(four.error);
    let accepted = 0;
    four.value.onConnection((s) => {
      accepted++;
      s.onData((d) => s.write(d.slice()));
      s.onEnd(() => s.end());
    });
    const mapped = ipv4Mapped(B_IP);
    expect(formatIpv6(mapped)).toBe("::ffff:192.0.2.11");
    expect(t.a.tcp6!.connect(mapped, 7)).toMatchObject({ ok: false, error: "no-route" });
    const c = t.a.tcp6!.connect(mapped, 7, { ipv6Only: false });
    if (!c.ok) throw new Error(c.error);
    const x = exchange(c.value, "mapped");
    t.clock.run(t.clock.now() + 5000);
    expect(x.got()).toBe("mapped");
    expect(accepted).toBe(1);
    const e = t.a.tcp6!.endpointsOf(c.value)!;
    expect([formatIpv6(e.local), formatIpv6(e.remote), e.ipv4]).toEqual(["::ffff:192.0.2.10", "::ffff:192.0.2.11", true]);
  });

  it("fromIpv4Mapped() takes only ::ffff:0:0/96", () => {
    expect(fromIpv4Mapped(ipv4Mapped(A_IP))).toBe(A_IP);
    expect(fromIpv4Mapped(ipv6("::192.0.2.10"))).toBeUndefined();
    expect(fromIpv4Mapped(ipv6("::fffe:c000:20a"))).toBeUndefined();
    expect(fromIpv4Mapped(ipv6("1::ffff:c000:20a"))).toBeUndefined();
  });
});
