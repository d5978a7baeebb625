// The 2-level event channel operations on a shared_info page, as pure functions over its shared
// memory, so that any thread holding the page (a SharedArrayBuffer) can run them: the hypervisor's
// set-pending and unmask, the guest's upcall scan, and a blocking wait for an upcall.
// sharedInfoView: typed views. setPending2l / unmask2l: Xen evtchn_2l_set_pending / _unmask.
// kickVcpu: wakes a thread blocked in waitForUpcall. takeEvents2l: Linux evtchn_2l_handle_events.
// waitForUpcall: Atomics.wait on vcpu0's upcall_pending (worker threads; blocks the caller).

import {
  SHARED_INFO_EVTCHN_MASK,
  SHARED_INFO_EVTCHN_PENDING,
  VCPU_INFO_PENDING_SEL,
  VCPU_INFO_UPCALL_MASK,
  VCPU_INFO_UPCALL_PENDING,
} from "../abi/event-channel.ts";
import { PAGE_SIZE } from "../abi/xen.ts";

const PENDING_WORD0 = SHARED_INFO_EVTCHN_PENDING / 4;
const MASK_WORD0 = SHARED_INFO_EVTCHN_MASK / 4;
const SEL_WORD0 = VCPU_INFO_PENDING_SEL / 4;

/** Typed views over one shared_info page. */
export interface SharedInfoView {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
}

/** Builds the views (the page must be 4096 bytes, 4-byte aligned). */
export function sharedInfoView(page: Uint8Array): SharedInfoView {
  return {
    u8: page,
    u32: new Uint32Array(page.buffer, page.byteOffset, PAGE_SIZE / 4),
    i32: new Int32Array(page.buffer, page.byteOffset, PAGE_SIZE / 4),
  };
}

const bit = (port: number): number => 1 << (port & 31);
const testAndSet = (a: Uint32Array, word: number, b: number): boolean => (Atomics.or(a, word, b) & b) !== 0;

/** Raises the selector bit of `port`'s word; true when upcall_pending went 0 -> 1 (the vcpu must be kicked). */
function raise(si: SharedInfoView, port: number): boolean {
  const sel = port >> 6;
  if (testAndSet(si.u32, SEL_WORD0 + (sel >> 5), 1 << (sel & 31))) return false;
  return Atomics.exchange(si.u8, VCPU_INFO_UPCALL_PENDING, 1) === 0;
}

/** Xen evtchn_2l_set_pending: an already pending port coalesces; a masked one stays silent. True: kick the vcpu. */
export function setPending2l(si: SharedInfoView, port: number): boolean {
  const w = port >> 5;
  if (testAndSet(si.u32, PENDING_WORD0 + w, bit(port))) return false;
  if ((Atomics.load(si.u32, MASK_WORD0 + w) & bit(port)) !== 0) return false;
  return raise(si, port);
}

/** Xen evtchn_2l_unmask: a mask 1 -> 0 transition of a pending port raises the upcall. True: kick the vcpu. */
export function unmask2l(si: SharedInfoView, port: number): boolean {
  const w = port >> 5;
  const wasMasked = (Atomics.and(si.u32, MASK_WORD0 + w, ~bit(port)) & bit(port)) !== 0;
  if (!wasMasked || (Atomics.load(si.u32, PENDING_WORD0 + w) & bit(port)) === 0) return false;
  return raise(si, port);
}

/** Wakes a thread blocked in waitForUpcall on this page. */
export function kickVcpu(si: SharedInfoView): void {
  Atomics.notify(si.i32, VCPU_INFO_UPCALL_PENDING >> 2);
}

/** True when vcpu0's evtchn_upcall_mask is set. */
export function upcallMasked(si: SharedInfoView): boolean {
  return Atomics.load(si.u8, VCPU_INFO_UPCALL_MASK) !== 0;
}

/**
 * The guest's upcall scan (one pass): clears upcall_pending, takes the selector, and for each
 * pending unmasked port clears its pending bit and then calls onPort. Returns the ports seen.
 */
export function takeEvents2l(si: SharedInfoView, onPort: (port: number) => void): number {
  Atomics.store(si.u8, VCPU_INFO_UPCALL_PENDING, 0);
  // Full barrier (seq-cst exchange): the selector is taken after upcall_pending is cleared, so a
  // concurrent sender either lands in this pass or raises upcall_pending again.
  const sel0 = Atomics.exchange(si.u32, SEL_WORD0, 0);
  const sel1 = Atomics.exchange(si.u32, SEL_WORD0 + 1, 0);
  let seen = 0;
  for (let s = 0; s < 64; s++) {
    if ((((s < 32 ? sel0 : sel1) >>> (s & 31)) & 1) === 0) continue;
    for (let half = 0; half < 2; half++) {
      const w = s * 2 + half;
      let active = Atomics.load(si.u32, PENDING_WORD0 + w) & ~Atomics.load(si.u32, MASK_WORD0 + w);
      while (active !== 0) {
        const b = 31 - Math.clz32(active & -active);
        active &= ~(1 << b);
        // Clear before handling: an event raised during the handler is delivered again.
        Atomics.and(si.u32, PENDING_WORD0 + w, ~(1 << b));
        seen++;
        onPort(w * 32 + b);
      }
    }
  }
  return seen;
}

/** Blocks (Atomics.wait; worker threads only) until upcall_pending is set or `timeoutMs` passes. */
export function waitForUpcall(si: SharedInfoView, timeoutMs: number): "ok" | "timed-out" {
  const word = VCPU_INFO_UPCALL_PENDING >> 2;
  const shift = (VCPU_INFO_UPCALL_PENDING & 3) * 8;
  for (;;) {
    const v = Atomics.load(si.i32, word);
    if (((v >>> shift) & 0xff) !== 0) return "ok";
    if (Atomics.wait(si.i32, word, v, timeoutMs) === "timed-out") {
      return ((Atomics.load(si.i32, word) >>> shift) & 0xff) !== 0 ? "ok" : "timed-out";
    }
  }
}
