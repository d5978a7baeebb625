// Cross-checks xen-sim's Xen ABI constants and ring behaviour against the C compiler and the
// public Xen headers of this machine (Debian libxen-dev), and the slot views the four split
// drivers read and write rings through (Netif*View, Blkif*View): C fills each struct field by
// field, the views must read the same values from its bytes and write the same bytes. Skips,
// saying why, when gcc or the headers are missing.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unwrap } from "../../stack/result.ts";
import { createRng } from "../../stack/time.ts";
import * as abi from "../../xen-sim/index.ts";
import { createBackRing, createFrontRing, initSharedRing, ringSlots, shouldNotify } from "../../xen-sim/index.ts";
import * as ctrl from "../../xen-sim/net/netif-ctrl.ts";

const HEADERS = "/usr/include/xen/io/ring.h";

function unavailable(): string | undefined {
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
  } catch {
    return "gcc not found (npm run setup installs it)";
  }
  if (!existsSync(HEADERS)) return `${HEADERS} missing (apt-get install libxen-dev, or npm run setup)`;
  return undefined;
}

/** Seeded (key, data) pairs for the Toeplitz cross-check: 40-byte keys, IPv4, IPv4+TCP and IPv6 sized inputs. */
function toeplitzCases(): [Uint8Array, Uint8Array][] {
  const rng = createRng(0x7e0b);
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => rng.nextInt(256));
  // The last two: a key shorter than the input plus 4 bytes (the header pads it with zeroes).
  return [
    [40, 8],
    [40, 12],
    [40, 36],
    [40, 12],
    [16, 36],
    [4, 12],
  ].map(([k, n]): [Uint8Array, Uint8Array] => [bytes(k!), bytes(n!)]);
}

/** [C expression, expected value from the TypeScript side]. */
type Check = [string, number];

const off = (type: string, field: string): string => `offsetof(${type}, ${field})`;
const size = (type: string): string => `sizeof(${type})`;

const layoutChecks: Check[] = [
  [size("RING_IDX"), 4],
  [off("struct netif_tx_sring", "req_prod"), abi.RING_REQ_PROD],
  [off("struct netif_tx_sring", "req_event"), abi.RING_REQ_EVENT],
  [off("struct netif_tx_sring", "rsp_prod"), abi.RING_RSP_PROD],
  [off("struct netif_tx_sring", "rsp_event"), abi.RING_RSP_EVENT],
  [off("struct netif_tx_sring", "pvt"), abi.RING_PVT],
  [off("struct netif_tx_sring", "pvt.netif.smartpoll_active"), abi.RING_PVT],
  [off("struct netif_tx_sring", "__pad"), abi.RING_PAD],
  [off("struct netif_tx_sring", "ring"), abi.RING_HEADER_SIZE],
  [off("struct netif_rx_sring", "ring"), abi.RING_HEADER_SIZE],
  [off("struct blkif_sring", "ring"), abi.RING_HEADER_SIZE],
  [size("union netif_tx_sring_entry"), abi.NETIF_TX_SLOT_SIZE],
  [size("union netif_rx_sring_entry"), abi.NETIF_RX_SLOT_SIZE],
  [size("union blkif_sring_entry"), abi.BLKIF_SLOT_SIZE],
  [size("union xen_netif_ctrl_sring_entry"), abi.NETIF_CTRL_SLOT_SIZE],
  ["__CONST_RING_SIZE(netif_tx, 4096)", ringSlots(1, abi.NETIF_TX_SLOT_SIZE)],
  ["__CONST_RING_SIZE(netif_rx, 4096)", ringSlots(1, abi.NETIF_RX_SLOT_SIZE)],
  ["__CONST_RING_SIZE(xen_netif_ctrl, 4096)", ringSlots(1, abi.NETIF_CTRL_SLOT_SIZE)],
  ...[1, 2, 4, 8, 16].map((n): Check => [`__CONST_RING_SIZE(blkif, ${4096 * n})`, ringSlots(n, abi.BLKIF_SLOT_SIZE)]),

  [size("struct netif_tx_request"), abi.NETIF_TX_REQUEST_SIZE],
  [off("struct netif_tx_request", "gref"), abi.NETIF_TX_REQUEST_GREF],
  [off("struct netif_tx_request", "offset"), abi.NETIF_TX_REQUEST_OFFSET],
  [off("struct netif_tx_request", "flags"), abi.NETIF_TX_REQUEST_FLAGS],
  [off("struct netif_tx_request", "id"), abi.NETIF_TX_REQUEST_ID],
  [off("struct netif_tx_request", "size"), abi.NETIF_TX_REQUEST_SIZE_FIELD],
  [size("struct netif_tx_response"), abi.NETIF_TX_RESPONSE_SIZE],
  [off("struct netif_tx_response", "id"), abi.NETIF_TX_RESPONSE_ID],
  [off("struct netif_tx_response", "status"), abi.NETIF_TX_RESPONSE_STATUS],
  [size("struct netif_rx_request"), abi.NETIF_RX_REQUEST_SIZE],
  [off("struct netif_rx_request", "id"), abi.NETIF_RX_REQUEST_ID],
  [off("struct netif_rx_request", "pad"), abi.NETIF_RX_REQUEST_PAD],
  [off("struct netif_rx_request", "gref"), abi.NETIF_RX_REQUEST_GREF],
  [size("struct netif_rx_response"), abi.NETIF_RX_RESPONSE_SIZE],
  [off("struct netif_rx_response", "id"), abi.NETIF_RX_RESPONSE_ID],
  [off("struct netif_rx_response", "offset"), abi.NETIF_RX_RESPONSE_OFFSET],
  [off("struct netif_rx_response", "flags"), abi.NETIF_RX_RESPONSE_FLAGS],
  [off("struct netif_rx_response", "status"), abi.NETIF_RX_RESPONSE_STATUS],
  [size("struct netif_extra_info"), abi.NETIF_EXTRA_INFO_SIZE],
  [off("struct netif_extra_info", "type"), abi.NETIF_EXTRA_TYPE],
  [off("struct netif_extra_info", "flags"), abi.NETIF_EXTRA_FLAGS],
  [off("struct netif_extra_info", "u.gso.size"), abi.NETIF_EXTRA_GSO_SIZE],
  [off("struct netif_extra_info", "u.gso.type"), abi.NETIF_EXTRA_GSO_TYPE],
  [off("struct netif_extra_info", "u.gso.pad"), abi.NETIF_EXTRA_GSO_PAD],
  [off("struct netif_extra_info", "u.gso.features"), abi.NETIF_EXTRA_GSO_FEATURES],
  [off("struct netif_extra_info", "u.mcast.addr"), abi.NETIF_EXTRA_MCAST_ADDR],
  [off("struct netif_extra_info", "u.hash.type"), abi.NETIF_EXTRA_HASH_TYPE],
  [off("struct netif_extra_info", "u.hash.algorithm"), abi.NETIF_EXTRA_HASH_ALGORITHM],
  [off("struct netif_extra_info", "u.hash.value"), abi.NETIF_EXTRA_HASH_VALUE],
  [size("struct xen_netif_ctrl_request"), ctrl.CTRL_REQUEST_SIZE],
  [off("struct xen_netif_ctrl_request", "id"), abi.NETIF_CTRL_REQUEST_ID],
  [off("struct xen_netif_ctrl_request", "type"), abi.NETIF_CTRL_REQUEST_TYPE],
  [off("struct xen_netif_ctrl_request", "data"), abi.NETIF_CTRL_REQUEST_DATA],
  [size("struct xen_netif_ctrl_response"), ctrl.CTRL_RESPONSE_SIZE],
  [off("struct xen_netif_ctrl_response", "id"), abi.NETIF_CTRL_RESPONSE_ID],
  [off("struct xen_netif_ctrl_response", "type"), abi.NETIF_CTRL_RESPONSE_TYPE],
  [off("struct xen_netif_ctrl_response", "status"), abi.NETIF_CTRL_RESPONSE_STATUS],
  [off("struct xen_netif_ctrl_response", "data"), abi.NETIF_CTRL_RESPONSE_DATA],
  ...(
    [
      "TYPE_INVALID",
      "TYPE_GET_HASH_FLAGS",
      "TYPE_SET_HASH_FLAGS",
      "TYPE_SET_HASH_KEY",
      "TYPE_GET_HASH_MAPPING_SIZE",
      "TYPE_SET_HASH_MAPPING_SIZE",
      "TYPE_SET_HASH_MAPPING",
      "TYPE_SET_HASH_ALGORITHM",
      "STATUS_SUCCESS",
      "STATUS_NOT_SUPPORTED",
      "STATUS_INVALID_PARAMETER",
      "STATUS_BUFFER_OVERFLOW",
      "HASH_ALGORITHM_NONE",
      "HASH_ALGORITHM_TOEPLITZ",
    ] as const
  ).map((n): Check => [`XEN_NETIF_CTRL_${n}`, (ctrl as unknown as Record<string, number>)[`XEN_NETIF_CTRL_${n}`]!]),
  ["_XEN_NETIF_CTRL_HASH_TYPE_IPV4", ctrl.HASH_TYPE_IPV4],
  ["_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP", ctrl.HASH_TYPE_IPV4_TCP],
  ["_XEN_NETIF_CTRL_HASH_TYPE_IPV6", ctrl.HASH_TYPE_IPV6],
  ["_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP", ctrl.HASH_TYPE_IPV6_TCP],
  // The header's own Toeplitz function against xen-sim's, on seeded keys and inputs of 8, 12 and 36 bytes.
  ...toeplitzCases().map(
    ([key, data]): Check => [
      `xen_netif_toeplitz_hash((const uint8_t[]){${key.join(",")}}, ${key.length}, (const uint8_t[]){${data.join(",")}}, ${data.length})`,
      ctrl.toeplitzHash(key, data),
    ],
  ),

  [size("struct blkif_request"), abi.BLKIF_REQUEST_SIZE],
  [off("struct blkif_request", "operation"), abi.BLKIF_REQUEST_OPERATION],
  [off("struct blkif_request", "nr_segments"), abi.BLKIF_REQUEST_NR_SEGMENTS],
  [off("struct blkif_request", "handle"), abi.BLKIF_REQUEST_HANDLE],
  [off("struct blkif_request", "id"), abi.BLKIF_REQUEST_ID],
  [off("struct blkif_request", "sector_number"), abi.BLKIF_REQUEST_SECTOR_NUMBER],
  [off("struct blkif_request", "seg"), abi.BLKIF_REQUEST_SEG],
  [off("struct blkif_request", "seg[10]"), abi.BLKIF_REQUEST_SEG + 10 * abi.BLKIF_SEGMENT_SIZE],
  [size("struct blkif_request_segment"), abi.BLKIF_SEGMENT_SIZE],
  [off("struct blkif_request_segment", "gref"), abi.BLKIF_SEGMENT_GREF],
  [off("struct blkif_request_segment", "first_sect"), abi.BLKIF_SEGMENT_FIRST_SECT],
  [off("struct blkif_request_segment", "last_sect"), abi.BLKIF_SEGMENT_LAST_SECT],
  [size("struct blkif_request_discard"), abi.BLKIF_DISCARD_SIZE],
  [off("struct blkif_request_discard", "flag"), abi.BLKIF_DISCARD_FLAG],
  [off("struct blkif_request_discard", "handle"), abi.BLKIF_REQUEST_HANDLE],
  [off("struct blkif_request_discard", "id"), abi.BLKIF_REQUEST_ID],
  [off("struct blkif_request_discard", "sector_number"), abi.BLKIF_REQUEST_SECTOR_NUMBER],
  [off("struct blkif_request_discard", "nr_sectors"), abi.BLKIF_DISCARD_NR_SECTORS],
  [size("struct blkif_request_indirect"), abi.BLKIF_INDIRECT_SIZE],
  [off("struct blkif_request_indirect", "indirect_op"), abi.BLKIF_INDIRECT_OP],
  [off("struct blkif_request_indirect", "nr_segments"), abi.BLKIF_INDIRECT_NR_SEGMENTS],
  [off("struct blkif_request_indirect", "id"), abi.BLKIF_REQUEST_ID],
  [off("struct blkif_request_indirect", "sector_number"), abi.BLKIF_REQUEST_SECTOR_NUMBER],
  [off("struct blkif_request_indirect", "handle"), abi.BLKIF_INDIRECT_HANDLE],
  [off("struct blkif_request_indirect", "indirect_grefs"), abi.BLKIF_INDIRECT_GREFS],
  [size("struct blkif_response"), abi.BLKIF_RESPONSE_SIZE],
  [off("struct blkif_response", "id"), abi.BLKIF_RESPONSE_ID],
  [off("struct blkif_response", "operation"), abi.BLKIF_RESPONSE_OPERATION],
  [off("struct blkif_response", "status"), abi.BLKIF_RESPONSE_STATUS],
  ["4096 / sizeof(struct blkif_request_segment)", abi.BLKIF_SEGMENTS_PER_INDIRECT_PAGE],

  [size("struct grant_entry_v1"), abi.GRANT_ENTRY_SIZE],
  [off("struct grant_entry_v1", "flags"), abi.GRANT_ENTRY_FLAGS],
  [off("struct grant_entry_v1", "domid"), abi.GRANT_ENTRY_DOMID],
  [off("struct grant_entry_v1", "frame"), abi.GRANT_ENTRY_FRAME],
  ["4096 / sizeof(struct grant_entry_v1)", abi.GRANT_ENTRIES_PER_PAGE],
  [size("struct gnttab_copy"), abi.GNTTAB_COPY_SIZE],
  [off("struct gnttab_copy", "source.u.ref"), abi.GNTTAB_COPY_SOURCE_U],
  [off("struct gnttab_copy", "source.u.gmfn"), abi.GNTTAB_COPY_SOURCE_U],
  [off("struct gnttab_copy", "source.domid"), abi.GNTTAB_COPY_SOURCE_DOMID],
  [off("struct gnttab_copy", "source.offset"), abi.GNTTAB_COPY_SOURCE_OFFSET],
  [off("struct gnttab_copy", "dest.u.ref"), abi.GNTTAB_COPY_DEST_U],
  [off("struct gnttab_copy", "dest.domid"), abi.GNTTAB_COPY_DEST_DOMID],
  [off("struct gnttab_copy", "dest.offset"), abi.GNTTAB_COPY_DEST_OFFSET],
  [off("struct gnttab_copy", "len"), abi.GNTTAB_COPY_LEN],
  [off("struct gnttab_copy", "flags"), abi.GNTTAB_COPY_FLAGS],
  [off("struct gnttab_copy", "status"), abi.GNTTAB_COPY_STATUS],

  [off("struct shared_info", "evtchn_pending"), abi.SHARED_INFO_EVTCHN_PENDING],
  [off("struct shared_info", "evtchn_mask"), abi.SHARED_INFO_EVTCHN_MASK],
  [off("struct shared_info", "wc_version"), abi.SHARED_INFO_WC_VERSION],
  [size("struct shared_info"), abi.SHARED_INFO_SIZE],
  [size("struct vcpu_info"), abi.VCPU_INFO_SIZE],
  [off("struct vcpu_info", "evtchn_upcall_pending"), abi.VCPU_INFO_UPCALL_PENDING],
  [off("struct vcpu_info", "evtchn_upcall_mask"), abi.VCPU_INFO_UPCALL_MASK],
  [off("struct vcpu_info", "evtchn_pending_sel"), abi.VCPU_INFO_PENDING_SEL],
  ["EVTCHN_2L_NR_CHANNELS", abi.EVTCHN_2L_NR_CHANNELS],
  ["XEN_LEGACY_MAX_VCPUS", abi.XEN_LEGACY_MAX_VCPUS],
  [size("struct evtchn_alloc_unbound"), abi.EVTCHN_ALLOC_UNBOUND_SIZE],
  [off("struct evtchn_alloc_unbound", "dom"), abi.EVTCHN_ALLOC_UNBOUND_DOM],
  [off("struct evtchn_alloc_unbound", "remote_dom"), abi.EVTCHN_ALLOC_UNBOUND_REMOTE_DOM],
  [off("struct evtchn_alloc_unbound", "port"), abi.EVTCHN_ALLOC_UNBOUND_PORT],
  [size("struct evtchn_bind_interdomain"), abi.EVTCHN_BIND_INTERDOMAIN_SIZE],
  [off("struct evtchn_bind_interdomain", "remote_dom"), abi.EVTCHN_BIND_INTERDOMAIN_REMOTE_DOM],
  [off("struct evtchn_bind_interdomain", "remote_port"), abi.EVTCHN_BIND_INTERDOMAIN_REMOTE_PORT],
  [off("struct evtchn_bind_interdomain", "local_port"), abi.EVTCHN_BIND_INTERDOMAIN_LOCAL_PORT],

  [size("struct xsd_sockmsg"), abi.XSD_SOCKMSG_SIZE],
  [off("struct xsd_sockmsg", "type"), abi.XSD_SOCKMSG_TYPE],
  [off("struct xsd_sockmsg", "req_id"), abi.XSD_SOCKMSG_REQ_ID],
  [off("struct xsd_sockmsg", "tx_id"), abi.XSD_SOCKMSG_TX_ID],
  [off("struct xsd_sockmsg", "len"), abi.XSD_SOCKMSG_LEN],
  [size("struct xenstore_domain_interface"), abi.XENSTORE_DOMAIN_INTERFACE_SIZE],
  [off("struct xenstore_domain_interface", "req"), abi.XENSTORE_REQ],
  [off("struct xenstore_domain_interface", "rsp"), abi.XENSTORE_RSP],
  [off("struct xenstore_domain_interface", "req_cons"), abi.XENSTORE_REQ_CONS],
  [off("struct xenstore_domain_interface", "req_prod"), abi.XENSTORE_REQ_PROD],
  [off("struct xenstore_domain_interface", "rsp_cons"), abi.XENSTORE_RSP_CONS],
  [off("struct xenstore_domain_interface", "rsp_prod"), abi.XENSTORE_RSP_PROD],
  [off("struct xenstore_domain_interface", "server_features"), abi.XENSTORE_SERVER_FEATURES],
  [off("struct xenstore_domain_interface", "connection"), abi.XENSTORE_CONNECTION],
  [off("struct xenstore_domain_interface", "error"), abi.XENSTORE_ERROR],
  ["XENSTORE_RING_SIZE", abi.XENSTORE_RING_SIZE],
  ["XENSTORE_PAYLOAD_MAX", abi.XENSTORE_PAYLOAD_MAX],
  ["XENSTORE_ABS_PATH_MAX", abi.XENSTORE_ABS_PATH_MAX],
  ["XENSTORE_REL_PATH_MAX", abi.XENSTORE_REL_PATH_MAX],
];

const constantNames = [
  "NETTXF_csum_blank",
  "NETTXF_data_validated",
  "NETTXF_more_data",
  "NETTXF_extra_info",
  "XEN_NETIF_MAX_TX_SIZE",
  "NETRXF_data_validated",
  "NETRXF_csum_blank",
  "NETRXF_more_data",
  "NETRXF_extra_info",
  "NETRXF_gso_prefix",
  "XEN_NETIF_EXTRA_TYPE_NONE",
  "XEN_NETIF_EXTRA_TYPE_GSO",
  "XEN_NETIF_EXTRA_TYPE_MCAST_ADD",
  "XEN_NETIF_EXTRA_TYPE_MCAST_DEL",
  "XEN_NETIF_EXTRA_TYPE_HASH",
  "XEN_NETIF_EXTRA_TYPE_MAX",
  "XEN_NETIF_EXTRA_FLAG_MORE",
  "XEN_NETIF_GSO_TYPE_NONE",
  "XEN_NETIF_GSO_TYPE_TCPV4",
  "XEN_NETIF_GSO_TYPE_TCPV6",
  "NETIF_RSP_DROPPED",
  "NETIF_RSP_ERROR",
  "NETIF_RSP_OKAY",
  "NETIF_RSP_NULL",
  "XEN_NETIF_NR_SLOTS_MIN",
  "BLKIF_OP_READ",
  "BLKIF_OP_WRITE",
  "BLKIF_OP_WRITE_BARRIER",
  "BLKIF_OP_FLUSH_DISKCACHE",
  "BLKIF_OP_RESERVED_1",
  "BLKIF_OP_DISCARD",
  "BLKIF_OP_INDIRECT",
  "BLKIF_RSP_EOPNOTSUPP",
  "BLKIF_RSP_ERROR",
  "BLKIF_RSP_OKAY",
  "BLKIF_MAX_SEGMENTS_PER_REQUEST",
  "BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST",
  "BLKIF_DISCARD_SECURE",
  "VDISK_CDROM",
  "VDISK_REMOVABLE",
  "VDISK_READONLY",
  "GTF_invalid",
  "GTF_permit_access",
  "GTF_accept_transfer",
  "GTF_transitive",
  "GTF_type_mask",
  "GTF_readonly",
  "GTF_reading",
  "GTF_writing",
  "GTF_sub_page",
  "GNTMAP_readonly",
  "GNTMAP_host_map",
  "GNTCOPY_source_gref",
  "GNTCOPY_dest_gref",
  "GNTTAB_NR_RESERVED_ENTRIES",
  "GNTTAB_RESERVED_CONSOLE",
  "GNTTAB_RESERVED_XENSTORE",
  "DOMID_SELF",
  "DOMID_FIRST_RESERVED",
] as const;

const constantChecks: Check[] = [
  ...constantNames.map((n): Check => [n, (abi as unknown as Record<string, number>)[n]!]),
  ...Object.entries(abi.GNTST).map(([k, v]): Check => [`GNTST_${k}`, v]),
  ...Object.entries(abi.EVTCHNSTAT).map(([k, v]): Check => [`EVTCHNSTAT_${k}`, v]),
];

/**
 * A struct filled field by field in C (after memset 0) and through a driver's view in TypeScript:
 * [C member, value, read through the view, write through the view].
 */
interface StructCase {
  readonly name: string;
  readonly cType: string;
  readonly size: number;
  readonly fields: readonly (readonly [string, number, (b: Uint8Array) => number, (b: Uint8Array, v: number) => void])[];
}

/** Field values drawn once from a seeded Rng, each within its C type (signed where the field is). */
function structCases(): StructCase[] {
  const rng = createRng(0x51075);
  const u8 = (): number => rng.nextInt(256);
  const u16 = (): number => rng.nextInt(65536);
  const s16 = (): number => rng.nextInt(65536) - 32768;
  const u32 = (): number => rng.nextU32();
  const tx = (b: Uint8Array) => new abi.NetifTxRequestView(b);
  const txr = (b: Uint8Array) => new abi.NetifTxResponseView(b);
  const rx = (b: Uint8Array) => new abi.NetifRxRequestView(b);
  const rxr = (b: Uint8Array) => new abi.NetifRxResponseView(b);
  const ex = (b: Uint8Array) => new abi.NetifExtraInfoView(b);
  const rq = (b: Uint8Array) => new abi.BlkifRequestView(b);
  const rs = (b: Uint8Array) => new abi.BlkifResponseView(b);
  const segs = (b: Uint8Array) => new abi.BlkifSegmentsView(b);
  const cq = (b: Uint8Array) => new abi.NetifCtrlRequestView(b);
  const cr = (b: Uint8Array) => new abi.NetifCtrlResponseView(b);
  // A segment as its three members: the view writes a segment whole.
  const segFields = (prefix: string, view: (b: Uint8Array) => abi.BlkifSegmentsView, i: number): StructCase["fields"] => {
    const [g, f, l] = [u32(), u8(), u8()];
    return [
      [`${prefix}.gref`, g, (b) => view(b).gref(i), (b) => view(b).set(i, g, f, l)],
      [`${prefix}.first_sect`, f, (b) => view(b).firstSect(i), () => {}],
      [`${prefix}.last_sect`, l, (b) => view(b).lastSect(i), () => {}],
    ];
  };
  const sector = (): number => rng.nextU32() * 0x100000 + rng.nextInt(0x100000);
  return [
    {
      name: "netif_tx_request",
      cType: "struct netif_tx_request",
      size: abi.NETIF_TX_REQUEST_SIZE,
      fields: [
        [
          "gref",
          u32(),
          (b) => tx(b).gref,
          (b, v) => {
            tx(b).gref = v;
          },
        ],
        [
          "offset",
          u16(),
          (b) => tx(b).offset,
          (b, v) => {
            tx(b).offset = v;
          },
        ],
        [
          "flags",
          u16(),
          (b) => tx(b).flags,
          (b, v) => {
            tx(b).flags = v;
          },
        ],
        [
          "id",
          u16(),
          (b) => tx(b).id,
          (b, v) => {
            tx(b).id = v;
          },
        ],
        [
          "size",
          u16(),
          (b) => tx(b).size,
          (b, v) => {
            tx(b).size = v;
          },
        ],
      ],
    },
    {
      name: "netif_tx_response",
      cType: "struct netif_tx_response",
      size: abi.NETIF_TX_RESPONSE_SIZE,
      fields: [
        [
          "id",
          u16(),
          (b) => txr(b).id,
          (b, v) => {
            txr(b).id = v;
          },
        ],
        [
          "status",
          s16(),
          (b) => txr(b).status,
          (b, v) => {
            txr(b).status = v;
          },
        ],
      ],
    },
    {
      name: "netif_rx_request",
      cType: "struct netif_rx_request",
      size: abi.NETIF_RX_REQUEST_SIZE,
      fields: [
        [
          "id",
          u16(),
          (b) => rx(b).id,
          (b, v) => {
            rx(b).id = v;
          },
        ],
        [
          "pad",
          u16(),
          (b) => rx(b).pad,
          (b, v) => {
            rx(b).pad = v;
          },
        ],
        [
          "gref",
          u32(),
          (b) => rx(b).gref,
          (b, v) => {
            rx(b).gref = v;
          },
        ],
      ],
    },
    {
      name: "netif_rx_response",
      cType: "struct netif_rx_response",
      size: abi.NETIF_RX_RESPONSE_SIZE,
      fields: [
        [
          "id",
          u16(),
          (b) => rxr(b).id,
          (b, v) => {
            rxr(b).id = v;
          },
        ],
        [
          "offset",
          u16(),
          (b) => rxr(b).offset,
          (b, v) => {
            rxr(b).offset = v;
          },
        ],
        [
          "flags",
          u16(),
          (b) => rxr(b).flags,
          (b, v) => {
            rxr(b).flags = v;
          },
        ],
        [
          "status",
          s16(),
          (b) => rxr(b).status,
          (b, v) => {
            rxr(b).status = v;
          },
        ],
      ],
    },
    {
      name: "netif_extra_info (gso)",
      cType: "struct netif_extra_info",
      size: abi.NETIF_EXTRA_INFO_SIZE,
      fields: [
        [
          "type",
          abi.XEN_NETIF_EXTRA_TYPE_GSO,
          (b) => ex(b).type,
          (b, v) => {
            ex(b).type = v;
          },
        ],
        [
          "flags",
          u8(),
          (b) => ex(b).flags,
          (b, v) => {
            ex(b).flags = v;
          },
        ],
        [
          "u.gso.size",
          u16(),
          (b) => ex(b).gsoSize,
          (b, v) => {
            ex(b).gsoSize = v;
          },
        ],
        [
          "u.gso.type",
          u8(),
          (b) => ex(b).gsoType,
          (b, v) => {
            ex(b).gsoType = v;
          },
        ],
        [
          "u.gso.features",
          u16(),
          (b) => ex(b).gsoFeatures,
          (b, v) => {
            ex(b).gsoFeatures = v;
          },
        ],
      ],
    },
    {
      name: "netif_extra_info (hash)",
      cType: "struct netif_extra_info",
      size: abi.NETIF_EXTRA_INFO_SIZE,
      fields: [
        [
          "type",
          abi.XEN_NETIF_EXTRA_TYPE_HASH,
          (b) => ex(b).type,
          (b, v) => {
            ex(b).type = v;
          },
        ],
        [
          "u.hash.type",
          u8(),
          (b) => ex(b).hashType,
          (b, v) => {
            ex(b).hashType = v;
          },
        ],
        [
          "u.hash.algorithm",
          u8(),
          (b) => ex(b).hashAlgorithm,
          (b, v) => {
            ex(b).hashAlgorithm = v;
          },
        ],
        // value is uint8_t[4]; Linux netback stores the hash through a uint32_t pointer (host order).
        [
          "*(uint32_t *)s.u.hash.value",
          u32(),
          (b) => ex(b).hashValue,
          (b, v) => {
            ex(b).hashValue = v;
          },
        ],
      ],
    },
    {
      name: "xen_netif_ctrl_request",
      cType: "struct xen_netif_ctrl_request",
      size: abi.NETIF_CTRL_REQUEST_SIZE,
      fields: [
        [
          "id",
          u16(),
          (b) => cq(b).id,
          (b, v) => {
            cq(b).id = v;
          },
        ],
        [
          "type",
          u16(),
          (b) => cq(b).type,
          (b, v) => {
            cq(b).type = v;
          },
        ],
        ...[0, 1, 2].map((i): StructCase["fields"][number] => [`data[${i}]`, u32(), (b) => cq(b).data(i), (b, v) => cq(b).setData(i, v)]),
      ],
    },
    {
      name: "xen_netif_ctrl_response",
      cType: "struct xen_netif_ctrl_response",
      size: abi.NETIF_CTRL_RESPONSE_SIZE,
      fields: [
        [
          "id",
          u16(),
          (b) => cr(b).id,
          (b, v) => {
            cr(b).id = v;
          },
        ],
        [
          "type",
          u16(),
          (b) => cr(b).type,
          (b, v) => {
            cr(b).type = v;
          },
        ],
        [
          "status",
          u32(),
          (b) => cr(b).status,
          (b, v) => {
            cr(b).status = v;
          },
        ],
        [
          "data",
          u32(),
          (b) => cr(b).data,
          (b, v) => {
            cr(b).data = v;
          },
        ],
      ],
    },
    {
      name: "blkif_request (11 segments)",
      cType: "struct blkif_request",
      size: abi.BLKIF_REQUEST_SIZE,
      fields: [
        [
          "operation",
          u8(),
          (b) => rq(b).operation,
          (b, v) => {
            rq(b).operation = v;
          },
        ],
        [
          "nr_segments",
          11,
          (b) => rq(b).nrSegments,
          (b, v) => {
            rq(b).nrSegments = v;
          },
        ],
        [
          "handle",
          u16(),
          (b) => rq(b).handle,
          (b, v) => {
            rq(b).handle = v;
          },
        ],
        // id is a u64: its two halves as C sees them on x86_64.
        [
          "id",
          u32(),
          (b) => rq(b).idLow,
          (b, v) => {
            rq(b).idLow = v;
          },
        ],
        [
          "*((uint32_t *)&s.id + 1)",
          u32(),
          (b) => rq(b).idHigh,
          (b, v) => {
            rq(b).idHigh = v;
          },
        ],
        [
          "sector_number",
          sector(),
          (b) => rq(b).sectorNumber,
          (b, v) => {
            rq(b).sectorNumber = v;
          },
        ],
        ...Array.from({ length: 11 }, (_, i) => segFields(`seg[${i}]`, (b) => rq(b).segments, i)).flat(),
      ],
    },
    {
      name: "blkif_request_discard",
      cType: "struct blkif_request_discard",
      size: abi.BLKIF_DISCARD_SIZE,
      fields: [
        [
          "operation",
          abi.BLKIF_OP_DISCARD,
          (b) => rq(b).operation,
          (b, v) => {
            rq(b).operation = v;
          },
        ],
        [
          "flag",
          abi.BLKIF_DISCARD_SECURE,
          (b) => rq(b).discardFlag,
          (b, v) => {
            rq(b).discardFlag = v;
          },
        ],
        [
          "handle",
          u16(),
          (b) => rq(b).handle,
          (b, v) => {
            rq(b).handle = v;
          },
        ],
        [
          "id",
          u32(),
          (b) => rq(b).idLow,
          (b, v) => {
            rq(b).idLow = v;
          },
        ],
        [
          "sector_number",
          sector(),
          (b) => rq(b).sectorNumber,
          (b, v) => {
            rq(b).sectorNumber = v;
          },
        ],
        [
          "nr_sectors",
          sector(),
          (b) => rq(b).discardNrSectors,
          (b, v) => {
            rq(b).discardNrSectors = v;
          },
        ],
      ],
    },
    {
      name: "blkif_request_indirect",
      cType: "struct blkif_request_indirect",
      size: abi.BLKIF_INDIRECT_SIZE,
      fields: [
        [
          "operation",
          abi.BLKIF_OP_INDIRECT,
          (b) => rq(b).operation,
          (b, v) => {
            rq(b).operation = v;
          },
        ],
        [
          "indirect_op",
          abi.BLKIF_OP_WRITE,
          (b) => rq(b).indirectOp,
          (b, v) => {
            rq(b).indirectOp = v;
          },
        ],
        [
          "nr_segments",
          u16(),
          (b) => rq(b).indirectNrSegments,
          (b, v) => {
            rq(b).indirectNrSegments = v;
          },
        ],
        [
          "id",
          u32(),
          (b) => rq(b).idLow,
          (b, v) => {
            rq(b).idLow = v;
          },
        ],
        [
          "sector_number",
          sector(),
          (b) => rq(b).sectorNumber,
          (b, v) => {
            rq(b).sectorNumber = v;
          },
        ],
        [
          "handle",
          u16(),
          (b) => rq(b).indirectHandle,
          (b, v) => {
            rq(b).indirectHandle = v;
          },
        ],
        ...Array.from({ length: 8 }, (_, i): StructCase["fields"][number] => [
          `indirect_grefs[${i}]`,
          u32(),
          (b) => rq(b).indirectGref(i),
          (b, v) => rq(b).setIndirectGref(i, v),
        ]),
      ],
    },
    // An indirect page's segment table: entries 0, 1 and the last of a page.
    {
      name: "indirect page (blkif_request_segment[512])",
      cType: "struct blkif_request_segment[512]",
      size: 4096,
      fields: [...[0, 1, 511].flatMap((i) => segFields(`[${i}]`, segs, i))],
    },
    {
      name: "blkif_response",
      cType: "struct blkif_response",
      size: abi.BLKIF_RESPONSE_SIZE,
      fields: [
        [
          "id",
          u32(),
          (b) => rs(b).idLow,
          (b, v) => {
            rs(b).idLow = v;
          },
        ],
        [
          "*((uint32_t *)&s.id + 1)",
          u32(),
          (b) => rs(b).idHigh,
          (b, v) => {
            rs(b).idHigh = v;
          },
        ],
        [
          "operation",
          u8(),
          (b) => rs(b).operation,
          (b, v) => {
            rs(b).operation = v;
          },
        ],
        [
          "status",
          s16(),
          (b) => rs(b).status,
          (b, v) => {
            rs(b).status = v;
          },
        ],
      ],
    },
  ];
}

/** C statements that fill one struct case and print `struct <i> <hex bytes>`. */
function cStruct(c: StructCase, i: number): string {
  const assign = (member: string, v: number): string => {
    const lhs = member.startsWith("*") ? member : member.startsWith("[") ? `s${member}` : `s.${member}`;
    return `${lhs} = ${v < 0 ? `(${v})` : `${v}ull`};`;
  };
  const decl = c.cType.endsWith("]") ? `${c.cType.replace(/\[\d+\]$/, "")} s${c.cType.match(/\[\d+\]$/)![0]}` : `${c.cType} s`;
  return `  {
    ${decl};
    memset(&s, 0, sizeof s);
    ${c.fields.map(([m, v]) => assign(m, v)).join("\n    ")}
    printf("struct ${i}");
    for (size_t k = 0; k < ${c.size}; k++) printf(" %d", ((unsigned char *)&s)[k]);
    printf("\\n");
  }`;
}

/** Ring behaviour cases, drawn once from a seeded Rng: [start, pushed, consumed, event]. */
function ringCases(): [number, number, number, number][] {
  const rng = createRng(0x5e1f);
  const near = (): number => [0, 0xfffffff0, 0x7ffffff8, rng.nextU32()][rng.nextInt(4)]! + rng.nextInt(32);
  const cases: [number, number, number, number][] = [];
  for (let i = 0; i < 200; i++) {
    const start = near() >>> 0;
    const pushed = rng.nextInt(300);
    const consumed = rng.nextInt(pushed + 1);
    const event = (start + rng.nextInt(300) - 20) >>> 0;
    cases.push([start, pushed, consumed, event]);
  }
  return cases;
}

function cProgram(cases: [number, number, number, number][], structs: StructCase[]): string {
  const line = ([expr]: Check, i: number): string => `  printf("%d %lld\\n", ${i}, (long long)(${expr}));`;
  return `#define __XEN_TOOLS__ 1
#define XEN_NETIF_DEFINE_TOEPLITZ 1
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define xen_mb() __sync_synchronize()
#define xen_rmb() __sync_synchronize()
#define xen_wmb() __sync_synchronize()
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xen/io/ring.h>
#include <xen/io/netif.h>
#include <xen/io/blkif.h>
#include <xen/io/xs_wire.h>

static const uint32_t cases[][4] = {
${cases.map((c) => `  {${c.map((x) => `${x}u`).join(", ")}},`).join("\n")}
};

int main(void) {
${layoutChecks.map(line).join("\n")}
${constantChecks.map((c, i) => line(c, i + layoutChecks.length)).join("\n")}
${structs.map(cStruct).join("\n")}
  netif_tx_sring_t *s = aligned_alloc(4096, 4096);
  memset(s, 0xff, 4096);
  SHARED_RING_INIT(s);
  printf("header");
  for (int i = 0; i < 64; i++) printf(" %d", ((unsigned char *)s)[i]);
  printf("\\n");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint32_t start = cases[i][0], pushed = cases[i][1], consumed = cases[i][2], ev = cases[i][3];
    netif_tx_front_ring_t f;
    netif_tx_back_ring_t b;
    SHARED_RING_INIT(s);
    FRONT_RING_ATTACH(&f, s, start, 4096);
    BACK_RING_ATTACH(&b, s, start, 4096);
    s->req_prod = start; s->rsp_prod = start;
    s->req_event = ev;
    f.req_prod_pvt = start + pushed;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f, notify);
    b.req_cons = start + consumed;
    unsigned int unconsumed = RING_HAS_UNCONSUMED_REQUESTS(&b);
    int overflow = RING_REQUEST_PROD_OVERFLOW(&b, s->req_prod);
    s->req_event = start;
    int work;
    RING_FINAL_CHECK_FOR_REQUESTS(&b, work);
    printf("case %zu %d %u %d %d %u\\n", i, notify, unconsumed, overflow, work ? 1 : 0, s->req_event);
  }
  return 0;
}
`;
}

const reason = unavailable();

describe("Xen ABI cross-check against gcc and /usr/include/xen", () => {
  if (reason !== undefined) {
    it.skip(`skipped: ${reason}`, () => {});
    return;
  }
  const cases = ringCases();
  const structs = structCases();
  let dir = "";
  let lines: string[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "netlab-xen-abi-"));
    writeFileSync(join(dir, "probe.c"), cProgram(cases, structs));
    execFileSync("gcc", ["-std=gnu11", "-O0", "-Wall", "-Werror", "-o", join(dir, "probe"), join(dir, "probe.c")]);
    lines = execFileSync(join(dir, "probe"), { encoding: "utf8" }).trim().split("\n");
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("every struct size and field offset xen-sim encodes equals the compiler's", () => {
    const got = new Map(lines.filter((l) => /^\d+ /.test(l)).map((l) => l.split(" ").map(Number) as [number, number]));
    const mismatches = layoutChecks.map(([expr, want], i) => ({ expr, want, got: got.get(i) })).filter((m) => m.got !== m.want);
    expect(mismatches).toEqual([]);
    expect(layoutChecks.length).toBeGreaterThan(100);
  });

  it("every constant xen-sim uses equals the header's", () => {
    const got = new Map(lines.filter((l) => /^\d+ /.test(l)).map((l) => l.split(" ").map(Number) as [number, number]));
    const mismatches = constantChecks.map(([expr, want], i) => ({ expr, want, got: got.get(i + layoutChecks.length) })).filter((m) => m.got !== m.want);
    expect(mismatches).toEqual([]);
  });

  it("the drivers' slot views read every field C wrote, and write the same bytes C does", () => {
    const wrong: string[] = [];
    structs.forEach((c, i) => {
      const cBytes = lines
        .find((l) => l.startsWith(`struct ${i} `))
        ?.split(" ")
        .slice(2)
        .map(Number);
      if (cBytes?.length !== c.size) {
        wrong.push(`${c.name}: no C bytes`);
        return;
      }
      const fromC = Uint8Array.from(cBytes);
      const ours = new Uint8Array(c.size);
      for (const [member, value, read, write] of c.fields) {
        const got = read(fromC);
        if (got !== value) wrong.push(`${c.name}.${member}: view reads ${got}, C wrote ${value}`);
        write(ours, value);
      }
      if (ours.some((b, k) => b !== fromC[k])) wrong.push(`${c.name}: view bytes ${[...ours]} vs C ${[...fromC]}`);
    });
    expect(wrong).toEqual([]);
    expect(structs.reduce((n, c) => n + c.fields.length, 0)).toBeGreaterThan(90);
  });

  it("initSharedRing() leaves the same 64 header bytes as SHARED_RING_INIT", () => {
    const page = new Uint8Array(new SharedArrayBuffer(4096)).fill(0xff);
    initSharedRing(page);
    const c = lines
      .find((l) => l.startsWith("header "))!
      .split(" ")
      .slice(1)
      .map(Number);
    expect([...page.subarray(0, 64)]).toEqual(c);
  });

  it("push/notify, unconsumed count, overflow and final check agree with ring.h's macros on 200 cases around index wrap", () => {
    const results = lines.filter((l) => l.startsWith("case ")).map((l) => l.split(" ").slice(1).map(Number));
    expect(results.length).toBe(cases.length);
    let hostile = 0;
    cases.forEach(([start, pushed, consumed, ev], i) => {
      const [, notify, unconsumed, overflow, work, reqEvent] = results[i]!;
      const page = new Uint8Array(new SharedArrayBuffer(4096));
      const idx = new Uint32Array(page.buffer);
      initSharedRing(page);
      idx[0] = start;
      idx[2] = start;
      idx[1] = ev;
      const front = createFrontRing([page], { slotSize: abi.NETIF_TX_SLOT_SIZE, startIndex: start });
      const back = createBackRing([page], { slotSize: abi.NETIF_TX_SLOT_SIZE, startIndex: start });
      expect(shouldNotify(start, (start + pushed) >>> 0, ev)).toBe(notify === 1);
      if (pushed <= front.size) {
        for (let k = 0; k < pushed; k++) unwrap(front.queueRequest(new Uint8Array(12)));
        expect(front.pushRequests(), `notify case ${i}`).toBe(notify === 1);
        for (let k = 0; k < consumed; k++) unwrap(back.takeRequest(new Uint8Array(12)));
      } else {
        // A hostile frontend: req_prod claims more requests than the ring holds.
        idx[0] = (start + pushed) >>> 0;
        hostile++;
      }
      const n = back.unconsumedRequests();
      if (overflow === 1) expect(n.ok).toBe(false);
      else expect(unwrap(n), `unconsumed case ${i}`).toBe(unconsumed);
      idx[1] = start;
      const w = back.finalCheckForRequests();
      if (overflow === 1) return;
      expect(unwrap(w), `final check case ${i}`).toBe(work === 1);
      expect(idx[1], `req_event case ${i}`).toBe(reqEvent);
    });
    expect(hostile).toBeGreaterThan(0);
    expect(results.filter((r) => r[3] === 1).length).toBe(hostile);
  });
});
