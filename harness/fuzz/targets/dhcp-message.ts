// Fuzz target: DHCP messages (stack/wire/dhcp.ts) and the DHCP server that consumes them.
// Oracles: parsing never throws and reads through a guarded view (no read past the message, no
// silently clamped option view); every option's bytes lie inside the message; a parsed message re-emits to bytes that parse to the same
// repr (options canonicalised: split instances joined, overload undone); the server answers
// any parsed message without throwing, and each reply it sends parses.
import { createVirtualClock } from "../../../stack/time.ts";
import { ok } from "../../../stack/result.ts";
import {
  parseDhcp,
  emitDhcp,
  macToChaddr,
  optionMessageType,
  optionIpv4,
  optionBytes,
  DhcpOption,
  BOOTREQUEST,
  type DhcpRepr,
} from "../../../stack/wire/dhcp.ts";
import { createDhcpServer } from "../../../stack/app/dhcp/server.ts";
import type { UdpDatagram, UdpLayer } from "../../../stack/transport/types.ts";
import { fail, guarded, sameValue } from "../oracles.ts";

/**
 * The code under test, the only code Jazzer.js instruments for this target besides the target
 * itself (runner.ts bundleTarget): the virtual clock, the UDP stand-in and
 * the oracles (guarded views, round-trip comparison) run uninstrumented.
 */
export const instrumentOnly = ["stack/wire/dhcp.ts", "stack/app/dhcp/"];

const SERVER = 0xc0000201;

// The server's UDP port, built once: a datagram is handed straight to the server's handler and
// its replies are collected (a fresh server, with an empty lease table, is bound per input, so an
// input's outcome never depends on the inputs before it).
const clock = createVirtualClock(1);
const replies: { dst: number; bytes: Uint8Array }[] = [];
let deliver: (d: UdpDatagram) => void = () => {};
const udp: UdpLayer = {
  bind: (port) =>
    ok({
      localPort: port,
      sendTo(dst, _dstPort, payload) {
        replies.push({ dst, bytes: payload.slice() });
        return ok(undefined);
      },
      onMessage(h) {
        deliver = h;
      },
      close() {
        deliver = () => {};
      },
    }),
};
const serverHost = { cidr: { address: SERVER, prefixLength: 24 } };

export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const parsed = parseDhcp(guarded(bytes, "dhcp"));
  if (!parsed.ok) return;
  if (parsed.value.chaddr.length > 16) fail("shadow", `chaddr of ${parsed.value.chaddr.length} bytes (the field has 16)`, bytes);
  const again = parseDhcp(emitDhcp(parsed.value));
  if (!again.ok || !sameValue(again.value, parsed.value)) {
    throw new Error(`dhcp: re-emitted message parses differently\n  in: ${Buffer.from(bytes).toString("hex")}`);
  }
  const small = parseDhcp(emitDhcp(parsed.value, { maxLength: 300 }));
  if (!small.ok || !sameValue(small.value.options, parsed.value.options)) {
    throw new Error(`dhcp: overloaded re-emit loses options\n  in: ${Buffer.from(bytes).toString("hex")}`);
  }
  replies.length = 0;
  const server = createDhcpServer(
    { clock, udp, ipv4: serverHost },
    {
      pools: [{ subnet: { address: 0xc0000200, prefixLength: 24 }, rangeStart: 0xc0000264, rangeEnd: 0xc0000266, gateway: SERVER }],
      reservations: [{ mac: 0x020000000001, address: 0xc000020a }],
    },
  );
  for (const dst of [0xffffffff, SERVER]) deliver({ src: parsed.value.ciaddr, srcPort: 68, dst, dstPort: 67, payload: bytes.slice() });
  server.close();
  for (const r of replies) {
    if (!parseDhcp(r.bytes).ok) throw new Error(`dhcp server sent an unparsable reply to ${Buffer.from(bytes).toString("hex")}`);
  }
}

/** Seed inputs: a DISCOVER, a SELECTING REQUEST, a RENEW, a DECLINE and an INFORM. */
export function seeds(): Uint8Array[] {
  const base = (type: 1 | 3 | 4 | 8, ciaddr: number, extra: DhcpRepr["options"]): Uint8Array =>
    emitDhcp({
      op: BOOTREQUEST,
      htype: 1,
      hops: 0,
      xid: 0x3903f326,
      secs: 0,
      flags: 0x8000,
      ciaddr,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: macToChaddr(0x020000000001),
      sname: "",
      file: "",
      options: [optionMessageType(type), optionBytes(DhcpOption.CLIENT_ID, Uint8Array.of(1, 2, 0, 0, 0, 0, 1)), ...extra],
    });
  return [
    base(1, 0, [optionBytes(DhcpOption.PARAMETER_REQUEST_LIST, Uint8Array.of(1, 3, 6, 12, 15, 28, 51, 54, 58, 59))]),
    base(3, 0, [optionIpv4(DhcpOption.REQUESTED_IP, 0xc0000264), optionIpv4(DhcpOption.SERVER_ID, SERVER)]),
    base(3, 0xc0000264, []),
    base(4, 0, [optionIpv4(DhcpOption.REQUESTED_IP, 0xc0000264), optionIpv4(DhcpOption.SERVER_ID, SERVER)]),
    base(8, 0xc0000232, []),
  ];
}
