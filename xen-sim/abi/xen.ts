// Basic Xen ABI facts shared by every xen-sim module (xen/xen.h, x86_64).
// PAGE_SIZE: bytes per page. DOMID_SELF / DOMID_FIRST_RESERVED: special domain ids.
// isLittleEndianHost: the simulation stores multi-byte fields in host order, as Xen does.

/** Bytes in one page (XEN_PAGE_SIZE). */
export const PAGE_SIZE = 4096;
/** log2(PAGE_SIZE). */
export const PAGE_SHIFT = 12;
/** "The caller" in a domid field (xen.h DOMID_SELF). */
export const DOMID_SELF = 0x7ff0;
/** Domain ids at or above this are reserved names, never real domains. */
export const DOMID_FIRST_RESERVED = 0x7ff0;

/** A domain identifier (domid_t, u16). */
export type DomainId = number;

/** True when typed arrays use little-endian order (then Atomics on them match the x86_64 ABI bytes). */
export function isLittleEndianHost(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
