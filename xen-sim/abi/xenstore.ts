// Xenstore ABI layout (xen/io/xs_wire.h): struct xsd_sockmsg and struct xenstore_domain_interface.
// Offsets only; the xenstore implementation (xen-sim/xenstore) owns the protocol.

export const XSD_SOCKMSG_SIZE = 16;
export const XSD_SOCKMSG_TYPE = 0;
export const XSD_SOCKMSG_REQ_ID = 4;
export const XSD_SOCKMSG_TX_ID = 8;
export const XSD_SOCKMSG_LEN = 12;
export const XENSTORE_DOMAIN_INTERFACE_SIZE = 2076;
export const XENSTORE_RING_SIZE = 1024;
export const XENSTORE_REQ = 0;
export const XENSTORE_RSP = 1024;
export const XENSTORE_REQ_CONS = 2048;
export const XENSTORE_REQ_PROD = 2052;
export const XENSTORE_RSP_CONS = 2056;
export const XENSTORE_RSP_PROD = 2060;
export const XENSTORE_SERVER_FEATURES = 2064;
export const XENSTORE_CONNECTION = 2068;
export const XENSTORE_ERROR = 2072;
export const XENSTORE_PAYLOAD_MAX = 4096;
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;
