// Shared ring layout (xen/io/ring.h): the 64-byte header and __CONST_RING_SIZE.
// RING_*: header offsets. ringSize(): slots that fit, rounded down to a power of two.

/** offsetof(sring, req_prod): u32. */
export const RING_REQ_PROD = 0;
/** offsetof(sring, req_event): u32. */
export const RING_REQ_EVENT = 4;
/** offsetof(sring, rsp_prod): u32. */
export const RING_RSP_PROD = 8;
/** offsetof(sring, rsp_event): u32. */
export const RING_RSP_EVENT = 12;
/** offsetof(sring, pvt): 4 bytes private to the protocol (netif: smartpoll_active u8). */
export const RING_PVT = 16;
/** offsetof(sring, __pad): 44 bytes. */
export const RING_PAD = 20;
/** offsetof(sring, ring): first slot. */
export const RING_HEADER_SIZE = 64;

/** __RD32: rounds n down to a power of two (ring.h). */
export function roundDownPowerOfTwo(n: number): number {
  if (n < 1) return 0;
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

/** __CONST_RING_SIZE: slots of `slotSize` bytes that fit in `ringBytes` after the header. */
export function ringSize(ringBytes: number, slotSize: number): number {
  return roundDownPowerOfTwo(Math.floor((ringBytes - RING_HEADER_SIZE) / slotSize));
}
