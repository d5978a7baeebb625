// The blkback-hostile target builds its Xen world once per process: replaying an input after many
// others must give exactly what it gives in a fresh world (see ../kit/target-tests.ts).
import * as target from "./blkback-hostile.ts";
import { describeReuseDeterminism } from "../kit/target-tests.ts";

describeReuseDeterminism("blkback-hostile", target, (o) => !o.includes('"state":"connected"'));
