// Fuzz target: the xenstore server over a connection and over a domain's ring page (the target
// itself lives beside the code it covers: xen-sim/xenstore/fuzz-target.ts).
export { fuzz, seeds } from "../../../xen-sim/xenstore/fuzz-target.ts";
