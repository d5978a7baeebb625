// Fuzz target: netlab's DHCP client (stack/app/dhcp/client.ts) answered by a scripted server
// whose replies come from the input. Each client message is answered by the next record:
//   [flags u8][yiaddr pick u8][lease u32 BE][n u8][n raw option bytes]
// flags: bits 0-2 message type (0: none, else the DHCP type 1..7), bit 3 wrong xid, bit 4 wrong
// chaddr, bit 5 server identifier, bit 6 lease time, bit 7 answer 70 s late. The reply carries
// the client's xid unless told otherwise, so the input reaches the client's state machine.
// Oracles: nothing throws; every address the client configures was the yiaddr of an ACK it was
// sent with its xid and chaddr, a lease time and a usable address; at the end a client holding
// a lease has its address configured, one without a lease has none of the ACKed addresses left.
import { createRng, createVirtualClock } from "../../../stack/time.ts";
import { unwrap } from "../../../stack/result.ts";
import { IPV4_BROADCAST } from "../../../stack/wire/address.ts";
import { BOOTREPLY, DHCP_MAGIC_COOKIE, DhcpMessageType, leaseTime, messageType, parseDhcp } from "../../../stack/wire/dhcp.ts";
import { createDhcpClient } from "../../../stack/app/dhcp/client.ts";
import { createUdpSegment } from "../../../stack/app/dhcp/test-helpers.ts";

const MAC = 0x02005e0010aa;
const SERVER = 0xc0000201;
const ADDRESSES = [0xc0000264, 0xc0000265, 0, 0xffffffff, 0x7f000001, 0xe0000001, 0xc00002ff, 0xc0000201];

function fail(what: string, input: Uint8Array): never {
  throw new Error(`dhcp-client: ${what}\n  in: ${Buffer.from(input).toString("hex")}`);
}

const usable = (a: number): boolean => a !== 0 && a !== 0xffffffff && a >>> 24 !== 127 && a >>> 24 !== 0 && a >>> 28 < 14;

export function fuzz(data: Buffer): void {
  const input = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const clock = createVirtualClock();
  const seg = createUdpSegment(clock);
  const host = seg.attach("client");
  const server = seg.attach("server", { address: SERVER, prefixLength: 24 });
  const sock = unwrap(server.udp.bind(67));
  const client = createDhcpClient({ clock, rng: createRng(input[0] ?? 1), udp: host.udp, ipv4: host.ipv4, mac: MAC }, { initDelayMinMs: 0, initDelayMaxMs: 0 });
  const acked = new Set<number>();
  let at = 0;
  sock.onMessage((d) => {
    const req = parseDhcp(d.payload);
    if (!req.ok || at + 7 > input.length) return;
    const flags = input[at]!,
      pick = input[at + 1]!;
    const lease = new DataView(input.buffer, input.byteOffset + at + 2, 4).getUint32(0);
    const n = Math.min(input[at + 6]!, input.length - at - 7);
    const raw = input.subarray(at + 7, at + 7 + n);
    at += 7 + n;
    const msg = new Uint8Array(240 + 16 + raw.length + 1);
    const v = new DataView(msg.buffer);
    msg[0] = BOOTREPLY;
    msg[1] = 1;
    msg[2] = 6;
    v.setUint32(4, flags & 8 ? (req.value.xid ^ 0x10000) >>> 0 : req.value.xid);
    v.setUint32(16, pick < ADDRESSES.length * 32 ? ADDRESSES[pick % ADDRESSES.length]! : 0xc0000200 | pick);
    msg.set(req.value.chaddr.subarray(0, 16), 28);
    if (flags & 16) msg[28] = msg[28]! ^ 1;
    v.setUint32(236, DHCP_MAGIC_COOKIE);
    let o = 240;
    if (flags & 7) {
      msg.set([53, 1, flags & 7], o);
      o += 3;
    }
    if (flags & 32) {
      msg.set([54, 4], o);
      v.setUint32(o + 2, SERVER);
      o += 6;
    }
    if (flags & 64) {
      msg.set([51, 4], o);
      v.setUint32(o + 2, lease);
      o += 6;
    }
    msg.set(raw, o);
    o += raw.length;
    msg[o++] = 255;
    const reply = msg.subarray(0, o);
    const r = parseDhcp(reply);
    if (
      r.ok &&
      r.value.op === BOOTREPLY &&
      messageType(r.value) === DhcpMessageType.ACK &&
      leaseTime(r.value) !== undefined &&
      !(flags & 24) &&
      usable(r.value.yiaddr)
    )
      acked.add(r.value.yiaddr);
    const send = (): void => {
      sock.sendTo(IPV4_BROADCAST, 68, reply, { broadcast: true });
    };
    if (flags & 128) clock.setTimer(clock.now() + 70_000, send);
    else send();
  });
  client.start();
  clock.run(3 * 3600 * 1000);
  for (const c of host.ipv4.configureCalls) {
    if (c !== undefined && !acked.has(c.address)) {
      fail(`configured ${c.address.toString(16)} which no valid ACK offered (ACKed: ${[...acked].map((a) => a.toString(16)).join(",")})`, input);
    }
  }
  const cur = host.ipv4.cidr;
  if (client.lease !== undefined && cur?.address !== client.lease.address) fail("holds a lease but its address is not configured", input);
  if (client.lease === undefined && cur !== undefined && client.state !== "bound")
    fail(`no lease (state ${client.state}) but ${cur.address.toString(16)} still configured`, input);
  client.stop();
}

/** Seeds: a full DORA, DORA then NAK at renewal, an ACK without lease time, a wrong-xid ACK. */
export function seeds(): Uint8Array[] {
  const rec = (flags: number, pick: number, lease: number, raw: number[] = []): number[] => [
    flags,
    pick,
    lease >>> 24,
    (lease >>> 16) & 255,
    (lease >>> 8) & 255,
    lease & 255,
    raw.length,
    ...raw,
  ];
  const mask = [1, 4, 255, 255, 255, 0, 3, 4, 192, 0, 2, 1];
  return [
    Uint8Array.from([...rec(0x62, 0, 3600, mask), ...rec(0x65, 0, 3600, mask)]),
    Uint8Array.from([...rec(0x62, 0, 120, mask), ...rec(0x65, 0, 120, mask), ...rec(0x66, 0, 0), ...rec(0x62, 1, 60), ...rec(0x65, 1, 60)]),
    Uint8Array.from([...rec(0x62, 0, 3600), ...rec(0x25, 0, 3600)]),
    Uint8Array.from([...rec(0x62, 0, 3600), ...rec(0x6d, 0, 3600), ...rec(0x65, 0, 3600, [58, 4, 0, 0, 0, 10, 59, 4, 0, 0, 0, 5])]),
    Uint8Array.from([...rec(0x62, 3, 3600), ...rec(0x65, 3, 3600), ...rec(0x62, 0, 0xffffffff), ...rec(0x65, 0, 0xffffffff)]),
  ];
}
