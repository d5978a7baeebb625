// The xenbus-netfront-hostile target builds its Xen world once per process: replaying an input
// after many others must give exactly what it gives in a fresh world; and it survives its seeds'
// mutations (see ../kit/target-tests.ts).
import * as target from "./xenbus-netfront-hostile.ts";
import { describeReuseDeterminism, describeSeedMutations } from "../kit/target-tests.ts";

describeReuseDeterminism("xenbus-netfront-hostile", target, (o) => o.includes('"front":"5"') || o.includes("bad-mac"));
describeSeedMutations("xenbus-netfront-hostile", target, { runs: 100, maxLength: 48 });
