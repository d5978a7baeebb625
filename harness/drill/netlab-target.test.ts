import { describe, expect, it } from "vitest";
import type { DrillResult } from "./model.ts";
import { createNetlabDrillTarget } from "./netlab-target.ts";
import { formatParseError, parseDrillScript } from "./parser.ts";

async function run(text: string): Promise<DrillResult> {
  const r = parseDrillScript(text, "t.pkt");
  if (!r.ok) throw new Error(formatParseError(r.error));
  return createNetlabDrillTarget().run(r.value, { toleranceUsecs: 4000, scriptTimeoutMs: 600_000 });
}

const OPEN = `\`../common/defaults.sh\`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
  +.1 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
`;

describe("netlab drill target", () => {
  it("passes a passive open, a write and a close", async () => {
    const r = await run(`${OPEN}   +0 write(4, ..., 1000) = 1000
   +0 > P. 1:1001(1000) ack 1
 +.01 < . 1:1(0) ack 1001 win 257
   +0 close(4) = 0
   +0 > F. 1001:1001(0) ack 1
 +.01 < F. 1:1(0) ack 1002 win 257
   +0 > . 1002:1002(0) ack 2
`);
    expect(r).toMatchObject({ result: "pass", target: "netlab" });
  });

  it("fails on a wrong ack with both sides' numbers, naming the line", async () => {
    const r = await run(`${OPEN}   +0 write(4, ..., 1000) = 1000\n   +0 > P. 1:1001(1000) ack 5\n`);
    expect(r.result).toBe("fail");
    expect(r.pos?.line).toBe(11);
    expect(r.reason).toContain("ack 1 (absolute");
    expect(r.reason).toContain("expected 5");
  });

  it("runs a script over IPv6 from its --ip_version=ipv6 header: MSS 1460 at MTU 1520, the script side's address resolved by NS/NA, v6 addresses in a failure", async () => {
    const pass = await run(`// --ip_version=ipv6\n${OPEN}   +0 write(4, ..., 3000) = 3000
   +0 > . 1:1001(1000) ack 1
   +0 > . 1001:2001(1000) ack 1
   +0 > P. 2001:3001(1000) ack 1
`);
    expect(pass).toMatchObject({ result: "pass", target: "netlab" });
    const fail = await run(`// --ip_version=ipv6\n${OPEN}   +0 write(4, ..., 1000) = 1000\n   +0 > P. 1:1001(1000) ack 5\n`);
    expect(fail.result).toBe("fail");
    expect(fail.reason).toContain("[fd00::1]:8080 > [fd00::2]:");
    const v4 = await run(`${OPEN}   +0 write(4, ..., 1000) = 1000\n   +0 > P. 1:1001(1000) ack 5\n`);
    expect(v4.reason).toContain("192.168.0.1:8080 > 192.0.2.1:");
  });

  it("takes the IP version of a script without a header from the run options, and skips an unknown one", async () => {
    const r = parseDrillScript(`${OPEN}   +0 write(4, ..., 1000) = 1000\n   +0 > P. 1:1001(1000) ack 5\n`, "t.pkt");
    if (!r.ok) throw new Error(formatParseError(r.error));
    const v6 = await createNetlabDrillTarget().run(r.value, { toleranceUsecs: 4000, scriptTimeoutMs: 600_000, ipVersion: 6 });
    expect(v6.reason).toContain("[fd00::1]:8080");
    const odd = await run(`// --ip_version=ipv5\n${OPEN}`);
    expect(odd).toMatchObject({ result: "skip" });
    expect(odd.reason).toContain("--ip_version=ipv5 is not supported");
  });

  it("runs a --ip_version=ipv4-mapped-ipv6 script on stack.tcp6 sockets (dual-stack listen, mapped connect) with IPv4 on the wire", async () => {
    const header = "// --ip_version=ipv4-mapped-ipv6\n";
    const passive = await run(`${header}${OPEN}   +0 write(4, ..., 1000) = 1000\n   +0 > P. 1:1001(1000) ack 1\n`);
    expect(passive).toMatchObject({ result: "pass", target: "netlab" });
    const active = await run(`${header}    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0...0.1 connect(3, ..., ...) = 0
   +0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
  +.1 < S. 0:0(0) ack 1 win 5840 <mss 1460>
   +0 > . 1:1(0) ack 1
   +0 write(3, ..., 1000) = 1000
   +0 > P. 1:1001(1000) ack 1
`);
    expect(active).toMatchObject({ result: "pass", target: "netlab" });
    const fail = await run(`${header}${OPEN}   +0 write(4, ..., 1000) = 1000\n   +0 > P. 1:1001(1000) ack 5\n`);
    expect(fail.result).toBe("fail");
    expect(fail.reason).toContain("192.168.0.1:8080 > 192.0.2.1:");
  });

  it("fails on an unexpected outbound packet", async () => {
    const r = await run(`${OPEN}   +0 write(4, ..., 1000) = 1000\n  +.5 close(4) = 0\n`);
    expect(r.result).toBe("fail");
    expect(r.reason).toMatch(/unexpected outbound packet at 0\.100s before this line: P\. 1:1001\(1000\)/);
  });

  it("fails, without hanging, when an expected packet never comes", async () => {
    const r = await run(`${OPEN}   * > P. 1:1001(1000) ack 1\n`);
    expect(r.result).toBe("fail");
    expect(r.reason).toContain("nothing arrived");
  });

  it("checks syscall results and errnos", async () => {
    const r = await run(
      `${OPEN}   +0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n   +0 read(4, ..., 100) = -1 EAGAIN (Resource temporarily unavailable)\n   +0 read(4, ..., 100) = 0\n`,
    );
    expect(r).toMatchObject({ result: "fail", reason: "read() = -1 EAGAIN, expected 0" });
  });

  it("completes a blocking read when data arrives at the end time", async () => {
    const r = await run(`${OPEN}   +0...0.2 read(4, ..., 100) = 100\n  +.2 < P. 1:101(100) ack 1 win 257\n   +0 > . 1:1(0) ack 101\n`);
    // netlab quick-acks at the connection's start, as Linux: the ACK comes at once.
    expect(r.reason ?? "").toBe("");
    expect(r.result).toBe("pass");
  });

  it("skips sysctls and constructs netlab has no equivalent for, naming them", async () => {
    expect(await run("`sysctl -q net.ipv4.tcp_mtu_probing=1`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")).toMatchObject({
      result: "skip",
      reason: expect.stringContaining("tcp_mtu_probing"),
    });
    expect(await run("`sysctl -q net.ipv4.tcp_ecn=3`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")).toMatchObject({
      result: "skip",
      reason: expect.stringContaining("tcp_ecn=3"),
    });
    expect(await run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ assert tcpi_snd_cwnd == 10 }%\n")).toMatchObject({
      result: "skip",
      reason: expect.stringContaining("%{ }%"),
    });
    expect(await run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 poll([], 0, 0) = 0\n")).toMatchObject({
      result: "skip",
      reason: expect.stringContaining("poll"),
    });
    expect(await run("`sysctl -q net.ipv4.tcp_sack=0`\n0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n")).toMatchObject({
      result: "skip",
      reason: expect.stringContaining("SOCK_DGRAM"),
    });
  });

  it("gives the same result on every run", async () => {
    const text = `${OPEN}   +0 write(4, ..., 3000) = 3000\n   +0 > P. 1:3001(3000) ack 1\n`;
    const a = await run(text);
    const b = await run(text);
    expect({ ...a, durationMs: 0 }).toEqual({ ...b, durationMs: 0 });
  });
});

describe("netlab drill target: TCP_INFO", () => {
  it("evaluates %{ }% asserts against the last socket the script used", async () => {
    const pass = await run(`${OPEN}   +0 %{ assert tcpi_snd_cwnd == 10 && tcpi_state == 1, tcpi_snd_cwnd }%
   +0 %{ assert tcpi_snd_mss == 1000; assert tcpi_snd_ssthresh == 0x7fffffff }%
`);
    expect(pass).toMatchObject({ result: "pass" });
    const fail = await run(`${OPEN}   +0 %{ assert tcpi_snd_cwnd == 9 }%\n`);
    expect(fail).toMatchObject({ result: "fail", reason: "assertion failed: assert tcpi_snd_cwnd == 9 (tcpi_snd_cwnd=10)" });
    expect(fail.pos?.line).toBe(10);
  });

  it("skips a script whose block reads a field netlab does not have, naming it", async () => {
    const r = await run(`${OPEN}   +0 %{ assert tcpi_ca_state == 0 }%\n`);
    expect(r.result).toBe("skip");
    expect(r.reason).toContain("tcpi_ca_state");
  });

  it("answers getsockopt(TCP_INFO) from the same mapping", async () => {
    const ok = await run(`${OPEN}   +0 getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_state=1, tcpi_snd_cwnd=10, tcpi_snd_mss=1000}, [256]) = 0\n`);
    expect(ok.result).toBe("pass");
    const bad = await run(`${OPEN}   +0 getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_snd_cwnd=4}, [256]) = 0\n`);
    expect(bad).toMatchObject({ result: "fail", reason: "getsockopt(TCP_INFO) tcpi_snd_cwnd = 10, expected 4" });
  });
});
