// Event channels, 2-level ABI (Xen common/event_channel.c, event_2l.c; Linux events_2l.c).
// Each domain's shared_info page holds the pending and mask bitmaps and vcpu0's selector and
// upcall_pending; all updates are Atomics on that shared memory. Setting a pending bit that is
// already set is a no-op (events coalesce); an unmasked new event sets the selector and
// upcall_pending and, on its 0 -> 1 transition, schedules the upcall through the Clock: delivery
// never happens inside send(). The upcall (the guest side) clears upcall_pending, takes the
// selector, and for each pending unmasked port clears the pending bit and runs the port handler.
// A domain whose vcpu is a thread (vcpu "thread") is only kicked (Atomics.notify); the thread
// takes its events with takeEvents2l. The 2-level bit operations live in two-level.ts.
// createEventChannelSystem: per-hypervisor port tables; forDomain() gives a domain its DomainEvents.

import { err, ok, type Result } from "../../stack/result.ts";
import type { Clock, Rng, TimerId } from "../../stack/time.ts";
import {
  EVTCHN_2L_NR_CHANNELS,
  SHARED_INFO_EVTCHN_MASK,
  SHARED_INFO_EVTCHN_PENDING,
  VCPU_INFO_UPCALL_MASK,
  VCPU_INFO_UPCALL_PENDING,
} from "../abi/event-channel.ts";
import { DOMID_SELF, PAGE_SIZE, type DomainId } from "../abi/xen.ts";
import type { DomainMemoryInternal } from "../memory/types.ts";
import { kickVcpu, setPending2l, sharedInfoView, takeEvents2l, unmask2l, upcallMasked, type SharedInfoView } from "./two-level.ts";
import type { ChannelEndpoint, DomainEvents, EventChannelOptions, EvtchnError, EvtchnPort, PortStatus, VcpuMode } from "./types.ts";
import { NetlabError } from "../../stack/error.ts";

type Channel = { state: "unbound"; remoteDom: DomainId } | { state: "interdomain"; remoteDom: DomainId; remotePort: EvtchnPort };

interface EvtDomain {
  domid: DomainId;
  memory: DomainMemoryInternal;
  frame: number;
  page: Uint8Array;
  u32: Uint32Array;
  si: SharedInfoView;
  vcpu: VcpuMode;
  channels: (Channel | undefined)[];
  handlers: Map<EvtchnPort, (port: EvtchnPort) => void>;
  timer: TimerId | undefined;
  upcalls: number;
}

const PENDING_WORD0 = SHARED_INFO_EVTCHN_PENDING / 4;
const MASK_WORD0 = SHARED_INFO_EVTCHN_MASK / 4;

/** The event channel machinery of one hypervisor. */
export interface EventChannelSystem {
  /** Allocates the domain's shared_info page and an empty port table; `vcpu` says who runs its upcalls. */
  addDomain(memory: DomainMemoryInternal, vcpu?: VcpuMode): Result<void, "out-of-memory">;
  /** Closes every port of the domain (peers revert to unbound) and cancels its upcall. */
  removeDomain(domid: DomainId): void;
  /** The event channel operations of a domain (throws ERR_NETLAB_NO_DOMAIN for an unknown domain). */
  forDomain(domid: DomainId): DomainEvents;
}

/** Creates the event channel system. */
export function createEventChannelSystem(
  deps: { clock: Clock; rng: Rng; isPrivileged: (domid: DomainId) => boolean },
  options: EventChannelOptions = {},
): EventChannelSystem {
  const maxPorts = Math.min(options.maxPorts ?? EVTCHN_2L_NR_CHANNELS, EVTCHN_2L_NR_CHANNELS);
  const latency = options.upcallLatencyMs ?? 0;
  const jitter = options.upcallJitterMs ?? 0;
  const doms = new Map<DomainId, EvtDomain>();
  const apis = new Map<DomainId, DomainEvents>();

  const bit = (port: EvtchnPort): number => 1 << (port & 31);

  const scheduleUpcall = (d: EvtDomain): void => {
    if (d.timer !== undefined) return;
    const delay = latency + (jitter > 0 ? deps.rng.nextFloat() * jitter : 0);
    d.timer = deps.clock.setTimer(deps.clock.now() + delay, () => {
      d.timer = undefined;
      runUpcall(d);
    });
  };

  /**
   * Xen vcpu_mark_events_pending after upcall_pending went 0 -> 1: wake the domain's thread, or
   * schedule the upcall (no thread ever waits on a clock-run domain's page: no Atomics.notify).
   */
  const kick = (d: EvtDomain): void => {
    if (d.vcpu !== "clock") kickVcpu(d.si);
    else if (!upcallMasked(d.si)) scheduleUpcall(d);
  };

  const setPending = (d: EvtDomain, port: EvtchnPort): void => {
    if (setPending2l(d.si, port)) kick(d);
  };

  /** The guest's upcall on the clock (Linux evtchn_2l_handle_events, one pass). */
  const runUpcall = (d: EvtDomain): void => {
    if (!doms.has(d.domid) || upcallMasked(d.si)) return;
    d.upcalls++;
    takeEvents2l(d.si, (port) => {
      if (doms.has(d.domid)) d.handlers.get(port)?.(port);
    });
  };

  const freePort = (d: EvtDomain): EvtchnPort | undefined => {
    for (let p = 1; p < maxPorts; p++) if (d.channels[p] === undefined) return p;
    return undefined;
  };

  const validPort = (port: EvtchnPort): boolean => Number.isInteger(port) && port > 0 && port < maxPorts;

  const clearPending = (d: EvtDomain, port: EvtchnPort): void => {
    Atomics.and(d.u32, PENDING_WORD0 + (port >> 5), ~bit(port));
  };

  const closePort = (d: EvtDomain, port: EvtchnPort): Result<void, "EINVAL"> => {
    const ch = validPort(port) ? d.channels[port] : undefined;
    if (ch === undefined) return err("EINVAL");
    if (ch.state === "interdomain") {
      const peer = doms.get(ch.remoteDom);
      const pch = peer?.channels[ch.remotePort];
      if (peer !== undefined && pch?.state === "interdomain" && pch.remoteDom === d.domid && pch.remotePort === port) {
        peer.channels[ch.remotePort] = { state: "unbound", remoteDom: d.domid };
      }
    }
    d.channels[port] = undefined;
    d.handlers.delete(port);
    // Xen evtchn_free: clear pending to avoid a stale event on re-bind.
    clearPending(d, port);
    return ok(undefined);
  };

  const makeApi = (d: EvtDomain): DomainEvents => ({
    sharedInfoFrame: d.frame,
    sharedInfo: d.page,
    get upcallCount() {
      return d.upcalls;
    },
    allocUnbound(remoteDom, dom = DOMID_SELF) {
      const target = dom === DOMID_SELF ? d : doms.get(dom);
      if (target === undefined) return err("ESRCH");
      if (target !== d && !deps.isPrivileged(d.domid)) return err("EPERM");
      const port = freePort(target);
      if (port === undefined) return err("ENOSPC");
      target.channels[port] = { state: "unbound", remoteDom: remoteDom === DOMID_SELF ? target.domid : remoteDom };
      return ok(port);
    },
    bindInterdomain(remoteDom, remotePort): Result<EvtchnPort, EvtchnError> {
      const rd = remoteDom === DOMID_SELF ? d : doms.get(remoteDom);
      if (rd === undefined) return err("ESRCH");
      const lport = freePort(d);
      if (lport === undefined) return err("ENOSPC");
      const rch = validPort(remotePort) ? rd.channels[remotePort] : undefined;
      if (rch === undefined || rch.state !== "unbound" || rch.remoteDom !== d.domid) return err("EINVAL");
      if (rd === d && remotePort === lport) return err("EINVAL");
      d.channels[lport] = { state: "interdomain", remoteDom: rd.domid, remotePort };
      rd.channels[remotePort] = { state: "interdomain", remoteDom: d.domid, remotePort: lport };
      // Xen: the new local port starts pending, so nothing sent before the bind is lost.
      setPending(d, lport);
      return ok(lport);
    },
    send(port) {
      const ch = validPort(port) ? d.channels[port] : undefined;
      if (ch === undefined) return err("EINVAL");
      if (ch.state === "interdomain") {
        const peer = doms.get(ch.remoteDom);
        if (peer !== undefined) setPending(peer, ch.remotePort);
      }
      return ok(undefined);
    },
    close: (port) => closePort(d, port),
    mask(port) {
      if (!Number.isInteger(port) || port < 0 || port >= maxPorts) return err("EINVAL");
      Atomics.or(d.u32, MASK_WORD0 + (port >> 5), bit(port));
      return ok(undefined);
    },
    unmask(port) {
      if (!Number.isInteger(port) || port < 0 || port >= maxPorts) return err("EINVAL");
      if (unmask2l(d.si, port)) kick(d);
      return ok(undefined);
    },
    status(port): PortStatus {
      const ch = validPort(port) ? d.channels[port] : undefined;
      return ch === undefined ? { state: "closed" } : { ...ch };
    },
    isPending: (port) =>
      Number.isInteger(port) && port >= 0 && port < EVTCHN_2L_NR_CHANNELS && (Atomics.load(d.u32, PENDING_WORD0 + (port >> 5)) & bit(port)) !== 0,
    isMasked: (port) =>
      Number.isInteger(port) && port >= 0 && port < EVTCHN_2L_NR_CHANNELS && (Atomics.load(d.u32, MASK_WORD0 + (port >> 5)) & bit(port)) !== 0,
    setUpcallMask(masked) {
      Atomics.store(d.page, VCPU_INFO_UPCALL_MASK, masked ? 1 : 0);
      if (!masked && Atomics.load(d.page, VCPU_INFO_UPCALL_PENDING) !== 0 && d.vcpu === "clock") scheduleUpcall(d);
    },
    endpoint(port): Result<ChannelEndpoint, "EINVAL"> {
      const ch = validPort(port) ? d.channels[port] : undefined;
      const peer = ch?.state === "interdomain" ? doms.get(ch.remoteDom) : undefined;
      if (ch?.state !== "interdomain" || peer === undefined) return err("EINVAL");
      return ok({ sharedInfo: d.page, port, peerSharedInfo: peer.page, peerPort: ch.remotePort });
    },
    onEvent(port, handler) {
      if (handler === undefined) d.handlers.delete(port);
      else d.handlers.set(port, handler);
    },
  });

  return {
    addDomain(memory, vcpu = "clock") {
      const f = memory.allocPage();
      if (!f.ok) return err("out-of-memory");
      const page = memory.lookup(f.value)!;
      const d: EvtDomain = {
        domid: memory.domid,
        memory,
        frame: f.value,
        page,
        u32: new Uint32Array(page.buffer, page.byteOffset, PAGE_SIZE / 4),
        si: sharedInfoView(page),
        vcpu,
        channels: [],
        handlers: new Map(),
        timer: undefined,
        upcalls: 0,
      };
      doms.set(d.domid, d);
      apis.set(d.domid, makeApi(d));
      return ok(undefined);
    },
    removeDomain(domid) {
      const d = doms.get(domid);
      if (d === undefined) return;
      for (let p = 1; p < d.channels.length; p++) if (d.channels[p] !== undefined) closePort(d, p);
      if (d.timer !== undefined) deps.clock.cancel(d.timer);
      doms.delete(domid);
      apis.delete(domid);
    },
    forDomain(domid) {
      const api = apis.get(domid);
      if (api === undefined) {
        const e = new NetlabError("ERR_NETLAB_NO_DOMAIN", `no domain ${domid}`);
        throw e;
      }
      return api;
    },
  };
}
