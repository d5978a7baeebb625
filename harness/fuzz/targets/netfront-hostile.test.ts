// The netfront-hostile target builds its Xen world once per process: replaying an input after many
// others must give exactly what it gives in a fresh world (see ../kit/target-tests.ts).
import * as target from "./netfront-hostile.ts";
import { describeReuseDeterminism } from "../kit/target-tests.ts";

describeReuseDeterminism("netfront-hostile", target, (o) => o.includes("!"));
