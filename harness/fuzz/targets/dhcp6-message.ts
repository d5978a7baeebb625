// Fuzz target: DHCPv6 messages (stack/wire/dhcp6.ts) and the DHCPv6 server that consumes them.
// Oracles: parsing never throws and reads through a guarded view (no read past the message);
// a parsed message re-emits to bytes that parse to the same repr (and to the very input bytes
// when no status message needed UTF-8 repair); the server answers any message, sent to
// ff02::1:2 and to its unicast address, without throwing, and every reply parses, is a
// client/server message with the input's transaction id and carries the server's DUID.
import { createVirtualClock } from "../../../stack/time.ts";
import { ok } from "../../../stack/result.ts";
import { ipv6 } from "../../../stack/wire/ipv6-address.ts";
import { type Dhcp6Option, Dhcp6MessageType, duidEqual, duidLl, emitDhcp6, findDhcp6Option, parseDhcp6 } from "../../../stack/wire/dhcp6.ts";
import { createDhcp6Server } from "../../../stack/app/dhcp6/server.ts";
import type { Udp6Datagram, Udp6Stack } from "../../../stack/transport/udp6.ts";
import { fail, guarded, sameValue } from "../oracles.ts";

const SERVER_MAC = 0x020000000001;
const CLIENT_LL = ipv6("fe80::2");
const clock = createVirtualClock(1);
const replies: Uint8Array[] = [];
let deliver: (d: Udp6Datagram) => void = () => {};
const udp6: Udp6Stack = {
  bind: (port) =>
    ok({
      localPort: port,
      sendTo(_dst, _dstPort, payload) {
        replies.push(payload.slice());
        return ok(undefined);
      },
      onMessage(h) {
        deliver = h;
      },
      onError() {},
      close() {
        deliver = () => {};
      },
    }),
  counters: () => ({ drops: {} }),
};
const host = { joinGroup() {}, leaveGroup() {} };

function hasStatus(options: readonly Dhcp6Option[]): boolean {
  return options.some((o) => o.kind === "status-code" || ((o.kind === "ia-na" || o.kind === "ia-addr") && hasStatus(o.options)));
}

export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const parsed = parseDhcp6(guarded(bytes, "dhcp6"));
  if (!parsed.ok) return;
  const emitted = emitDhcp6(parsed.value);
  const again = parseDhcp6(emitted);
  if (!again.ok || !sameValue(again.value, parsed.value)) fail("round-trip", "re-emitted message parses differently", bytes);
  if (!hasStatus(parsed.value.options) && Buffer.compare(Buffer.from(emitted), Buffer.from(bytes)) !== 0) fail("round-trip", "re-emitted bytes differ", bytes);
  replies.length = 0;
  const server = createDhcp6Server(
    { clock, udp6, host, mac: SERVER_MAC },
    {
      prefix: ipv6("2001:db8::"),
      prefixLength: 64,
      rangeStart: ipv6("2001:db8::100"),
      rangeEnd: ipv6("2001:db8::102"),
      dnsServers: [ipv6("2001:db8::53")],
      preference: 7,
      informationRefreshTime: 900,
    },
  );
  for (const dst of [ipv6("ff02::1:2"), ipv6("fe80::1")]) deliver({ src: CLIENT_LL, srcPort: 546, dst, dstPort: 547, payload: bytes.slice() });
  server.close();
  const xid = parsed.value.kind === "message" ? parsed.value.transactionId : -1;
  for (const r of replies) {
    const p = parseDhcp6(r);
    if (!p.ok || p.value.kind !== "message") fail("reply", "the server sent an unparsable or relay reply", bytes);
    if (p.value.transactionId !== xid) fail("reply", "a reply with another transaction id", bytes);
    const sid = findDhcp6Option(p.value.options, "server-id");
    if (sid === undefined || !duidEqual(sid.duid, duidLl(SERVER_MAC))) fail("reply", "a reply without the server's DUID", bytes);
  }
}

/** Seed inputs: SOLICIT (with rapid commit), REQUEST, RENEW, REBIND, RELEASE, DECLINE, CONFIRM, INFORMATION-REQUEST. */
export function seeds(): Uint8Array[] {
  const clientId: Dhcp6Option = { kind: "client-id", duid: duidLl(0x020000000002) };
  const serverId: Dhcp6Option = { kind: "server-id", duid: duidLl(SERVER_MAC) };
  const ia = (addr?: string): Dhcp6Option => ({
    kind: "ia-na",
    iaid: 1,
    t1: 0,
    t2: 0,
    options: addr === undefined ? [] : [{ kind: "ia-addr", address: ipv6(addr), preferredLifetime: 0, validLifetime: 0, options: [] }],
  });
  const oro: Dhcp6Option = { kind: "oro", codes: [23, 32] };
  const m = (msgType: number, options: Dhcp6Option[]): Uint8Array => emitDhcp6({ kind: "message", msgType, transactionId: 0x123456, options });
  return [
    m(Dhcp6MessageType.SOLICIT, [clientId, { kind: "elapsed-time", centiseconds: 0 }, { kind: "rapid-commit" }, ia(), oro]),
    m(Dhcp6MessageType.SOLICIT, [clientId, ia("2001:db8::101"), oro]),
    m(Dhcp6MessageType.REQUEST, [clientId, serverId, ia("2001:db8::100"), oro]),
    m(Dhcp6MessageType.RENEW, [clientId, serverId, ia("2001:db8::100")]),
    m(Dhcp6MessageType.REBIND, [clientId, ia("2001:db8::100")]),
    m(Dhcp6MessageType.RELEASE, [clientId, serverId, ia("2001:db8::100")]),
    m(Dhcp6MessageType.DECLINE, [clientId, serverId, ia("2001:db8::100")]),
    m(Dhcp6MessageType.CONFIRM, [clientId, ia("2001:db8:1::100")]),
    m(Dhcp6MessageType.INFORMATION_REQUEST, [clientId, oro]),
  ];
}
