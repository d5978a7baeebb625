// The xenbus-blkfront-hostile target builds its Xen world once per process: replaying an input
// after many others must give exactly what it gives in a fresh world; and it survives its seeds'
// mutations (see ../kit/target-tests.ts).
import * as target from "./xenbus-blkfront-hostile.ts";
import { describeReuseDeterminism, describeSeedMutations } from "../kit/target-tests.ts";

describeReuseDeterminism("xenbus-blkfront-hostile", target, (o) => o.includes("handshake-failed") || o.includes('"initialised":false'));
describeSeedMutations("xenbus-blkfront-hostile", target, { runs: 100, maxLength: 64 });
