// A configured stack on a capturing device, for frame-level fuzz targets: feeds frames as a
// peer, and checks that every frame the stack emits is well formed (the stack must never put
// a malformed frame or a bad checksum on the wire, whatever it was fed).
import { createStack, type Stack } from "../../stack/index.ts";
import { createRng, createVirtualClock, type VirtualClock } from "../../stack/time.ts";
import type { Frame, NetDevice } from "../../stack/link/types.ts";
import { NO_OFFLOADS } from "../../stack/link/types.ts";
import {
  parseEthernet,
  ethernetHeaderLength,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  parseArp,
  parseIpv4,
  parseIcmp,
  parseUdp,
  IP_PROTOCOL_ICMP,
  IP_PROTOCOL_UDP,
  IP_PROTOCOL_TCP,
  ipv4HeaderLength,
} from "../../stack/wire/index.ts";
import { parseTcp } from "../../stack/wire/tcp.ts";
import { HOST_A_MAC, HOST_B_MAC } from "./samples.ts";

/** Events a single input may cause before it counts as a hang. */
export const MAX_EVENTS_PER_INPUT = 20_000;

export interface FuzzStack {
  readonly stack: Stack;
  readonly clock: VirtualClock;
  /** Frames the stack sent, in order. */
  readonly sent: Frame[];
  /** Delivers a frame as if it arrived from the wire. */
  inject(frame: Uint8Array): void;
  /** Runs virtual time forward; throws if the stack schedules without end. */
  run(ms: number): void;
}

/** A stack at 192.0.2.2/24 (gateway .1) with a UDP echo on 7 and a TCP echo listener on 80. */
export function createFuzzStack(seed = 1): FuzzStack {
  const clock = createVirtualClock();
  const sent: Frame[] = [];
  let receive: (f: Frame) => void = () => {};
  const device: NetDevice = {
    mac: HOST_B_MAC,
    mtu: 1500,
    offloads: NO_OFFLOADS,
    send: (f) => {
      sent.push(f);
      checkEmitted(f.data);
    },
    onReceive: (h) => {
      receive = h;
    },
  };
  const stack = createStack({ device, clock, rng: createRng(seed) }, { ipv4: { cidr: "192.0.2.2/24", gateway: "192.0.2.1" } });
  stack.arp.addStatic(0xc0000201, HOST_A_MAC);
  const echo = stack.udp.bind(7);
  if (echo.ok)
    echo.value.onMessage((d) => {
      echo.value.sendTo(d.src, d.srcPort, d.payload);
    });
  const listener = stack.tcp.listen(80);
  if (listener.ok)
    listener.value.onConnection((s) => {
      s.onData((d) => s.write(d));
      s.onEnd(() => s.end());
    });
  return {
    stack,
    clock,
    sent,
    inject: (frame) => receive({ data: frame }),
    run(ms) {
      const until = clock.now() + ms;
      const fired = clock.run(until, MAX_EVENTS_PER_INPUT);
      if (fired >= MAX_EVENTS_PER_INPUT) throw new Error(`hang: ${fired} timer events within ${ms} ms of virtual time`);
    },
  };
}

/** Throws if an emitted frame is malformed or carries a bad checksum. */
export function checkEmitted(frame: Uint8Array): void {
  const fail = (what: string): never => {
    throw new Error(`stack emitted a bad frame (${what}): ${Buffer.from(frame).toString("hex")}`);
  };
  const eth = parseEthernet(frame);
  if (!eth.ok) fail(`ethernet ${eth.error}`);
  const ethValue = eth.ok ? eth.value : undefined;
  const payload = frame.subarray(ethernetHeaderLength(ethValue!));
  if (ethValue!.ethertype === ETHERTYPE_ARP) {
    const arp = parseArp(payload);
    if (!arp.ok) fail(`arp ${arp.error}`);
    return;
  }
  if (ethValue!.ethertype !== ETHERTYPE_IPV4) fail(`ethertype ${ethValue!.ethertype.toString(16)}`);
  const ip = parseIpv4(payload);
  if (!ip.ok) return fail(`ipv4 ${ip.error}`);
  if (payload.length > 1500) fail(`datagram of ${payload.length} bytes exceeds the MTU`);
  if (ip.value.fragmentOffset !== 0 || ip.value.moreFragments) return;
  const ihl = ipv4HeaderLength(ip.value);
  const body = payload.subarray(ihl, ihl + ip.value.payloadLength);
  const { src, dst, protocol } = ip.value;
  if (protocol === IP_PROTOCOL_ICMP) {
    const r = parseIcmp(body);
    if (!r.ok && r.error !== "unsupported-type") fail(`icmp ${r.error}`);
  } else if (protocol === IP_PROTOCOL_UDP) {
    const r = parseUdp(body, src, dst);
    if (!r.ok) fail(`udp ${r.error}`);
  } else if (protocol === IP_PROTOCOL_TCP) {
    const r = parseTcp(body, { src, dst });
    if (!r.ok) fail(`tcp ${r.error}`);
  }
}
