// Fuzz target: netlab's DHCPv6 client (stack/app/dhcp6/client.ts) answered by a scripted server
// whose replies come from the input. Each client message is answered by the next record:
//   [flags u8][address pick u8][preferred u32 BE][valid u32 BE][t1 u16 BE][t2 u16 BE][n u8][n raw bytes]
// flags: bits 0-1 reply type (0 none, 1 ADVERTISE, 2 REPLY, 3 REPLY with RAPID_COMMIT), bit 2
// wrong transaction id, bit 3 another client's DUID, bit 4 no SERVERID, bit 5 NoAddrsAvail in the
// IA, bit 6 UnspecFail at the top, bit 7 answer 70 s late. The raw bytes are appended to the
// options (they may make the message unparsable). The reply carries the client's transaction id
// unless told otherwise, so the input reaches the client's state machine; a picked address
// 2001:db8::bad fails DAD.
// Oracles: nothing throws; every address the client puts on the interface was a usable IAADDR
// (valid lifetime non-zero, preferred <= valid) of a REPLY sent with its transaction id, its
// DUID, a SERVERID and no failure status; at the end a client holding a lease has exactly its
// address on the interface, one without a lease (and not declining) has none.
import { createRng, createVirtualClock } from "../../../stack/time.ts";
import { err, ok } from "../../../stack/result.ts";
import type { DadResult } from "../../../stack/net/ipv6-types.ts";
import { formatIpv6, ipv6, ipv6Equal, isIpv6LinkLocal, isIpv6Multicast, isIpv6Unspecified, type Ipv6Address } from "../../../stack/wire/ipv6-address.ts";
import { type Dhcp6Option, Dhcp6MessageType, Dhcp6Status, duidLl, emitDhcp6, findDhcp6Option, parseDhcp6 } from "../../../stack/wire/dhcp6.ts";
import { createDhcp6Client } from "../../../stack/app/dhcp6/client.ts";
import type { Udp6Datagram, Udp6Stack } from "../../../stack/transport/udp6.ts";

const MAC = 0x020000000002;
const ADDRESSES = ["2001:db8::100", "2001:db8::101", "::", "ff02::1", "fe80::1", "2001:db8::bad", "::1", "2001:db8:1::7"].map(ipv6);
const BAD = ipv6("2001:db8::bad");
const RECORD = 16;

function fail(what: string, input: Uint8Array): never {
  throw new Error(`dhcp6-client: ${what}\n  in: ${Buffer.from(input).toString("hex")}`);
}

const usable = (a: Ipv6Address): boolean => !isIpv6Multicast(a) && !isIpv6Unspecified(a) && !isIpv6LinkLocal(a) && !ipv6Equal(a, ipv6("::1"));

export function fuzz(data: Buffer): void {
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const clock = createVirtualClock();
  let deliver: (d: Udp6Datagram) => void = () => {};
  const onInterface: Ipv6Address[] = [];
  const granted: Ipv6Address[] = [];
  let at = 0;
  const answer = (request: Uint8Array): void => {
    const req = parseDhcp6(request);
    if (!req.ok || req.value.kind !== "message" || at + RECORD > input.length) return;
    const v = new DataView(input.buffer, input.byteOffset + at, RECORD);
    const flags = v.getUint8(0),
      pick = v.getUint8(1);
    const preferred = v.getUint32(2),
      valid = v.getUint32(6),
      t1 = v.getUint16(10),
      t2 = v.getUint16(12);
    const n = Math.min(v.getUint8(14), input.length - at - RECORD);
    const raw = input.slice(at + RECORD, at + RECORD + n);
    at += RECORD + n;
    if ((flags & 3) === 0) return;
    const address = ADDRESSES[pick % ADDRESSES.length]!;
    const clientId = findDhcp6Option(req.value.options, "client-id")!.duid;
    const ia = findDhcp6Option(req.value.options, "ia-na");
    const iaid = ia?.iaid ?? 0;
    const options: Dhcp6Option[] = [{ kind: "client-id", duid: flags & 8 ? duidLl(MAC + 1) : clientId }];
    if (!(flags & 16)) options.push({ kind: "server-id", duid: duidLl(0x020000000001) });
    if ((flags & 3) === 3) options.push({ kind: "rapid-commit" });
    if (flags & 64) options.push({ kind: "status-code", status: Dhcp6Status.UNSPEC_FAIL, message: "" });
    options.push({
      kind: "ia-na",
      iaid,
      t1,
      t2,
      options:
        flags & 32
          ? [{ kind: "status-code", status: Dhcp6Status.NO_ADDRS_AVAIL, message: "" }]
          : [{ kind: "ia-addr", address, preferredLifetime: preferred, validLifetime: valid, options: [] }],
    });
    const msgType = (flags & 3) === 1 ? Dhcp6MessageType.ADVERTISE : Dhcp6MessageType.REPLY;
    const xid = flags & 4 ? req.value.transactionId ^ 1 : req.value.transactionId;
    const body = emitDhcp6({ kind: "message", msgType, transactionId: xid, options });
    const bytes = new Uint8Array(body.length + raw.length);
    bytes.set(body);
    bytes.set(raw, body.length);
    const r = parseDhcp6(bytes);
    if (r.ok && r.value.kind === "message" && msgType === Dhcp6MessageType.REPLY && !(flags & (4 | 8 | 16 | 32 | 64))) {
      const sent = r.value.options.filter((o) => o.kind === "ia-na" && o.iaid === iaid).flatMap((o) => (o.kind === "ia-na" ? o.options : []));
      for (const o of sent)
        if (o.kind === "ia-addr" && o.validLifetime !== 0 && o.preferredLifetime <= o.validLifetime && usable(o.address)) granted.push(o.address);
    }
    const send = (): void => deliver({ src: ipv6("fe80::1"), srcPort: 547, dst: ipv6("fe80::2"), dstPort: 546, payload: bytes });
    clock.setTimer(clock.now() + (flags & 128 ? 70_000 : 1), send);
  };
  const udp6: Udp6Stack = {
    bind: (port) =>
      ok({
        localPort: port,
        sendTo(_dst, _port, payload) {
          answer(payload.slice());
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
  const host = {
    raFlags: undefined,
    onRouterAdvertisement() {},
    addAddress(a: Ipv6Address, _len: number, cb?: (r: DadResult) => void) {
      if (!granted.some((g) => ipv6Equal(g, a))) fail(`put ${formatIpv6(a)} on the interface, which no valid REPLY granted`, input);
      if (!onInterface.some((x) => ipv6Equal(x, a))) onInterface.push(a);
      clock.setTimer(clock.now() + 1000, () => cb?.(ipv6Equal(a, BAD) ? err("duplicate" as const) : ok(a)));
    },
    removeAddress(a: Ipv6Address) {
      const i = onInterface.findIndex((x) => ipv6Equal(x, a));
      if (i >= 0) onInterface.splice(i, 1);
    },
  };
  const client = createDhcp6Client({ clock, rng: createRng(input[0] ?? 1), udp6, host, mac: MAC });
  client.start();
  clock.run(3600 * 1000);
  const lease = client.lease;
  if (client.state === "bound" && lease === undefined) fail("bound without a lease", input);
  if (lease !== undefined && !(onInterface.length === 1 && ipv6Equal(onInterface[0]!, lease.address))) {
    fail(`holds ${formatIpv6(lease.address)} but the interface has ${onInterface.map(formatIpv6).join(",")}`, input);
  }
  if (lease === undefined && client.state !== "declining" && client.state !== "requesting" && client.state !== "soliciting" && onInterface.length > 0) {
    fail(`no lease (state ${client.state}) but ${onInterface.map(formatIpv6).join(",")} on the interface`, input);
  }
  client.stop();
}

/** Seeds: ADVERTISE then REPLY; a rapid commit then renewals; a REPLY without SERVERID; NoAddrsAvail; a duplicate. */
export function seeds(): Uint8Array[] {
  const rec = (flags: number, pick: number, preferred: number, valid: number, t1 = 0, t2 = 0): number[] => {
    const b = new Uint8Array(RECORD);
    const v = new DataView(b.buffer);
    v.setUint8(0, flags);
    v.setUint8(1, pick);
    v.setUint32(2, preferred);
    v.setUint32(6, valid);
    v.setUint16(10, t1);
    v.setUint16(12, t2);
    v.setUint8(14, 0);
    return [...b];
  };
  return [
    Uint8Array.from([...rec(1, 0, 3600, 7200), ...rec(2, 0, 3600, 7200)]),
    Uint8Array.from([...rec(3, 1, 100, 200, 50, 80), ...rec(2, 1, 100, 200, 50, 80), ...rec(0, 0, 0, 0), ...rec(2, 1, 100, 200)]),
    Uint8Array.from([...rec(3 | 16, 0, 100, 200), ...rec(1, 0, 100, 200), ...rec(2 | 32, 0, 100, 200)]),
    Uint8Array.from([...rec(3, 5, 100, 200), ...rec(2, 0, 0, 0), ...rec(3, 0, 100, 200)]),
  ];
}
