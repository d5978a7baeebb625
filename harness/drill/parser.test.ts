import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DrillEvent, DrillScript } from "./model.ts";
import { formatParseError, parseDrillScript } from "./parser.ts";

const testdata = (name: string): string => readFileSync(fileURLToPath(new URL(`./testdata/${name}`, import.meta.url)), "utf8");

function parsed(text: string, file = "t.pkt"): DrillScript {
  const r = parseDrillScript(text, file);
  if (!r.ok) throw new Error(formatParseError(r.error));
  return r.value;
}

function errorOf(text: string): string {
  const r = parseDrillScript(text, "bad.pkt");
  if (r.ok) throw new Error("expected a parse error");
  return formatParseError(r.error);
}

const body = (e: DrillEvent | undefined): unknown => e?.body;

describe("parseDrillScript", () => {
  it("parses a passive-open golden script: options, header comment flags, times and packets", () => {
    const s = parsed(testdata("golden-passive.pkt"), "golden-passive.pkt");
    expect(s.options.get("tolerance_usecs")).toBe("10000");
    expect(s.events).toHaveLength(15);
    expect(body(s.events[0])).toEqual({ kind: "shell", command: "../common/defaults.sh" });
    expect(s.events[1]).toEqual({
      pos: { file: "golden-passive.pkt", line: 5, column: 5 },
      time: { kind: "absolute", usecs: 0 },
      body: {
        kind: "syscall",
        call: {
          name: "socket",
          args: [{ kind: "ellipsis" }, { kind: "name", value: "SOCK_STREAM" }, { kind: "name", value: "IPPROTO_TCP" }],
          result: 3,
        },
      },
    });
    expect(body(s.events[5])).toEqual({
      kind: "packet",
      packet: {
        protocol: "tcp",
        direction: "inbound",
        flags: "S",
        seq: { start: 0, end: 0, length: 0 },
        window: 32792,
        options: [{ kind: "mss", value: 1000 }, { kind: "sackOK" }, { kind: "nop" }, { kind: "nop" }, { kind: "nop" }, { kind: "wscale", value: 7 }],
      },
    });
    expect(s.events[7]?.time).toEqual({ kind: "relative", usecs: 100_000 });
    expect(body(s.events[12])).toMatchObject({ packet: { flags: "P.", seq: { start: 1, end: 1001, length: 1000 }, ack: 101, options: [{ kind: "any" }] } });
    expect(body(s.events[14])).toMatchObject({ packet: { direction: "outbound", flags: "F.", ack: 101 } });
    expect((body(s.events[14]) as { packet: object }).packet).not.toHaveProperty("options");
  });

  it("parses every other construct: ranges, *, blocking calls, errnos, structs, or, calls, code, ip extras, udp, icmp", () => {
    const s = parsed(testdata("golden-misc.pkt"));
    expect(s.options.get("tolerance_usecs")).toBe("5000");
    const e = s.events;
    expect(body(e[0])).toEqual({ kind: "shell", command: "sysctl -q net.ipv4.tcp_timestamps=1" });
    expect(body(e[2])).toMatchObject({
      call: {
        args: [
          { kind: "number", value: 3 },
          { kind: "name", value: "F_SETFL" },
          {
            kind: "or",
            items: [
              { kind: "name", value: "O_RDWR" },
              { kind: "name", value: "O_NONBLOCK" },
            ],
          },
        ],
      },
    });
    expect(body(e[3])).toMatchObject({ call: { name: "connect", result: -1, errno: "EINPROGRESS" } });
    expect(body(e[4])).toMatchObject({
      packet: { options: [{ kind: "mss", value: 1460 }, { kind: "sackOK" }, { kind: "TS", val: 100, ecr: 0 }, { kind: "nop" }, { kind: "wscale", value: 8 }] },
    });
    expect(e[5]?.time).toEqual({ kind: "range", relative: true, startUsecs: 100_000, endUsecs: 110_000 });
    expect(e[6]?.time).toEqual({ kind: "any" });
    expect(body(e[7])).toMatchObject({
      call: {
        args: [
          {},
          {},
          {},
          {
            kind: "struct",
            fields: [
              ["l_onoff", { kind: "number", value: 1 }],
              ["l_linger", { kind: "number", value: 0 }],
            ],
          },
          {},
        ],
      },
    });
    expect(body(e[8])).toMatchObject({ call: { name: "poll", result: 1, args: [{ kind: "list", items: [{ kind: "struct" }] }, {}, {}] } });
    expect(body(e[9])).toMatchObject({
      call: {
        args: [
          {},
          {},
          {},
          {
            kind: "struct",
            fields: [
              ["tcpi_state", { kind: "name", value: "TCP_ESTABLISHED" }],
              ["...", { kind: "ellipsis" }],
            ],
          },
          { kind: "list" },
        ],
      },
    });
    expect(e[10]?.time).toEqual({ kind: "relative", usecs: 0 });
    expect(body(e[10])).toMatchObject({ call: { name: "read", result: 1000, blockingEndUsecs: { relative: true, usecs: 200_000 } } });
    expect(body(e[11])).toEqual({ kind: "code", source: "assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd" });
    expect(body(e[12])).toEqual({ kind: "code", source: "assert tcpi_rto == 200000" });
    expect(body(e[13])).toMatchObject({
      packet: {
        ecn: "ect0",
        options: [
          {
            kind: "sack",
            blocks: [
              [1, 2],
              [3, 4],
            ],
          },
          { kind: "nop" },
          { kind: "nop" },
        ],
      },
    });
    expect(body(e[14])).toMatchObject({ packet: { ecn: "ce", tos: 0x10, flags: ".E", window: 16, urgent: 0 } });
    expect(body(e[15])).toEqual({ kind: "packet", packet: { protocol: "udp", direction: "inbound", length: 1000 } });
    expect(body(e[16])).toEqual({
      kind: "packet",
      packet: { protocol: "icmp", direction: "inbound", words: ["unreachable", "frag_needed", "mtu", "1200", "[1:1461(1460)]"] },
    });
    expect(body(e[17])).toMatchObject({
      call: {
        args: [
          {},
          {},
          {},
          {},
          {
            kind: "struct",
            fields: [
              ["sin_family", {}],
              ["sin_port", { kind: "call", name: "htons", args: [{ kind: "number", value: 8080 }] }],
              ["sin_addr", { kind: "call", name: "inet_addr", args: [{ kind: "string", value: "192.0.2.1" }] }],
            ],
          },
          {},
        ],
      },
    });
    expect(e[18]?.time).toEqual({ kind: "absolute", usecs: 1_500_000 });
  });

  it("reads flags S, S., ., P., F., FP., R, R., -, SEW and keeps unknown options as text", () => {
    for (const f of ["S", "S.", ".", "P.", "F.", "FP.", "R", "R.", "-", "SEW", "S.E"]) {
      expect(body(parsed(`0 < ${f} 0:0(0) win 1\n`).events[0])).toMatchObject({ packet: { flags: f } });
    }
    expect(body(parsed("0 < S 0:0(0) win 1 <mss 1460,FO abcd1234,nop>\n").events[0])).toMatchObject({
      packet: { options: [{ kind: "mss" }, { kind: "other", text: "FO abcd1234" }, { kind: "nop" }] },
    });
    expect(body(parsed("0 > S. 0:0(0) ack 1 <>\n").events[0])).toMatchObject({ packet: { options: [] } });
  });

  it("lets syscall arguments span lines and ignores comments anywhere", () => {
    const s = parsed("0 setsockopt(3, SOL_SOCKET, SO_LINGER, // linger\n  {l_onoff=1,\n   l_linger=0}, 8) = 0 /* done */\n+0 close(3) = 0");
    expect(s.events).toHaveLength(2);
    expect(s.events[1]?.pos.line).toBe(4);
  });

  it("reports malformed input with file:line:column and a clear message", () => {
    expect(errorOf("0 socket(..., SOCK_STREAM) = 3\n+0 < S 0:0(0 win 1\n")).toBe("bad.pkt:2:14: expected ')' after the payload length, found 'win'");
    expect(errorOf("0 < S 0:10(5) win 1\n")).toBe("bad.pkt:1:7: sequence range 0:10 does not match its length (5)");
    expect(errorOf("hello world\n")).toMatch(/^bad\.pkt:1:1: expected an event time/);
    expect(errorOf("0 < S 0:0(0) win 70000\n")).toMatch(/^bad\.pkt:1:18: a window out of range/);
    expect(errorOf("0 close(3)\n")).toMatch(/^bad\.pkt:1:11: expected '=' and the expected result/);
    expect(errorOf("0 < S 0:0(0) <mss 1460\n")).toMatch(/^bad\.pkt:1:23: expected ',' or '>'/);
    expect(errorOf("/* open\n")).toBe("bad.pkt:1:1: unterminated /* comment");
    expect(errorOf("0 `ls\n`\n")).toMatch(/^bad\.pkt:1:3: unterminated `shell command`/);
    expect(errorOf("+0 %{ assert 1\n")).toMatch(/^bad\.pkt:1:4: unterminated %\{/);
    expect(errorOf("0 close(3) = 0 junk\n")).toBe("bad.pkt:1:16: unexpected 'junk' at the end of the line");
    expect(errorOf("+0.1~0.2 close(3) = 0\n")).toMatch(/a time range is either/);
  });

  it("never throws, whatever the input (property)", () => {
    const pieces = [
      "0",
      "+0",
      "+.1",
      "*",
      "~",
      "...",
      "<",
      ">",
      "S",
      "S.",
      ".",
      "P.",
      "F.",
      "R",
      "-",
      "0:0(0)",
      "1:1001(1000)",
      "ack",
      "win",
      "urg",
      "1",
      "4294967296",
      "<mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>",
      "<...>",
      "<",
      "[ect0]",
      "(ce)",
      "udp",
      "icmp",
      "(",
      ")",
      "[",
      "]",
      "{",
      "}",
      ",",
      "=",
      "|",
      "-1",
      "EAGAIN",
      "socket",
      "close(3)",
      '"s"',
      "`",
      "%{",
      "}%",
      "//",
      "/*",
      "*/",
      "\n",
      " ",
      "--tolerance_usecs=1",
      "0x1f",
      "sack",
      "1:2",
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 40 }), (parts) => {
        const r = parseDrillScript(parts.join(" "), "p.pkt");
        if (!r.ok) expect(r.error.pos.line).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        parseDrillScript(text, "p.pkt");
      }),
      { numRuns: 3000 },
    );
  });
});
