// IPv4 address conflict detection by ARP probe (RFC 5227 §2.1).
//
// createArpProber  an AddressProber over raw ARP: waits PROBE_WAIT (random), sends PROBE_NUM
//                  probes (sender IP 0.0.0.0) PROBE_MIN..PROBE_MAX apart, then waits
//                  ANNOUNCE_WAIT; any ARP packet whose sender IP is the address, or another
//                  host's probe for it, is a conflict.
import type { Clock, Rng, TimerId } from "../../time.ts";
import type { Ipv4Address, MacAddress } from "../../wire/address.ts";
import type { AddressProber, ArpAccess } from "./types.ts";

/** RFC 5227 §1.1 timing constants, in ms (overridable for tests). */
export interface ArpProbeOptions {
  readonly probeWaitMs?: number;
  readonly probeNum?: number;
  readonly probeMinMs?: number;
  readonly probeMaxMs?: number;
  readonly announceWaitMs?: number;
}

/** Creates an RFC 5227 prober for the interface with `mac`. */
export function createArpProber(
  deps: { clock: Clock; rng: Rng; arp: ArpAccess; mac: MacAddress },
  options: ArpProbeOptions = {},
): AddressProber {
  const probeWait = options.probeWaitMs ?? 1000;
  const probeNum = options.probeNum ?? 3;
  const probeMin = options.probeMinMs ?? 1000;
  const probeMax = options.probeMaxMs ?? 2000;
  const announceWait = options.announceWaitMs ?? 2000;
  const { clock, rng, arp, mac } = deps;

  return {
    probe(address: Ipv4Address, done: (conflict: boolean) => void): () => void {
      let timer: TimerId | undefined;
      let sent = 0;
      let finished = false;
      const finish = (conflict: boolean): void => {
        if (finished) return;
        finished = true;
        if (timer !== undefined) clock.cancel(timer);
        unsubscribe();
        done(conflict);
      };
      const unsubscribe = arp.onPacket((p) => {
        if (p.senderMac === mac) return;
        // RFC 5227 §2.1.1: sender IP is ours, or a probe from another host for the same address.
        if (p.senderIp === address) finish(true);
        else if (p.senderIp === 0 && p.operation === "request" && p.targetIp === address) finish(true);
      });
      const step = (): void => {
        timer = undefined;
        if (finished) return;
        if (sent < probeNum) {
          arp.send({ operation: "request", senderMac: mac, senderIp: 0, targetMac: 0, targetIp: address });
          sent++;
          const wait = sent < probeNum ? probeMin + rng.nextFloat() * (probeMax - probeMin) : announceWait;
          timer = clock.setTimer(clock.now() + wait, step);
        } else {
          finish(false);
        }
      };
      timer = clock.setTimer(clock.now() + rng.nextFloat() * probeWait, step);
      return () => {
        if (finished) return;
        finished = true;
        if (timer !== undefined) clock.cancel(timer);
        unsubscribe();
      };
    },
  };
}
