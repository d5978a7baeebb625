// Event channel 2-level ABI (xen/event_channel.h, xen/xen.h struct shared_info / vcpu_info).
// SHARED_INFO_* / VCPU_INFO_*: byte offsets in the shared_info page. EVTCHN_2L_NR_CHANNELS: ports.
// EVTCHNSTAT: port states as EVTCHNOP_status reports them.

/** Number of ports of the 2-level ABI (64 words of 64 bits). */
export const EVTCHN_2L_NR_CHANNELS = 4096;
/** Bits per pending/mask/selector word (xen_ulong_t on x86_64). */
export const EVTCHN_WORD_BITS = 64;
/** offsetof(shared_info, vcpu_info[0]); vcpu_info is 64 bytes, 32 legacy vcpus. */
export const SHARED_INFO_VCPU_INFO = 0;
export const VCPU_INFO_SIZE = 64;
export const XEN_LEGACY_MAX_VCPUS = 32;
/** offsetof(vcpu_info, evtchn_upcall_pending): u8. */
export const VCPU_INFO_UPCALL_PENDING = 0;
/** offsetof(vcpu_info, evtchn_upcall_mask): u8. */
export const VCPU_INFO_UPCALL_MASK = 1;
/** offsetof(vcpu_info, evtchn_pending_sel): u64 selector, bit w = pending word w has work. */
export const VCPU_INFO_PENDING_SEL = 8;
/** offsetof(shared_info, evtchn_pending): 4096-bit bitmap. */
export const SHARED_INFO_EVTCHN_PENDING = 2048;
/** offsetof(shared_info, evtchn_mask): 4096-bit bitmap. */
export const SHARED_INFO_EVTCHN_MASK = 2560;
/** offsetof(shared_info, wc_version). */
export const SHARED_INFO_WC_VERSION = 3072;
/** sizeof(struct shared_info) on x86_64. */
export const SHARED_INFO_SIZE = 3136;

/** EVTCHNSTAT_* port states. */
export const EVTCHNSTAT = { closed: 0, unbound: 1, interdomain: 2, pirq: 3, virq: 4, ipi: 5 } as const;

/** sizeof/offsets of the hypercall argument structs (for the layout cross-check). */
export const EVTCHN_ALLOC_UNBOUND_SIZE = 8;
export const EVTCHN_ALLOC_UNBOUND_DOM = 0;
export const EVTCHN_ALLOC_UNBOUND_REMOTE_DOM = 2;
export const EVTCHN_ALLOC_UNBOUND_PORT = 4;
export const EVTCHN_BIND_INTERDOMAIN_SIZE = 12;
export const EVTCHN_BIND_INTERDOMAIN_REMOTE_DOM = 0;
export const EVTCHN_BIND_INTERDOMAIN_REMOTE_PORT = 4;
export const EVTCHN_BIND_INTERDOMAIN_LOCAL_PORT = 8;
