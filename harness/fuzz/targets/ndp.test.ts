// The ndp fuzz target on its seeds, their mutations and random inputs, and deterministic on its corpus (see ../kit/target-tests.ts).
import * as target from "./ndp.ts";
import { describeFreshWorldDeterminism, describeSeedMutations } from "../kit/target-tests.ts";

describeSeedMutations("ndp", target, { maxLength: 800 });
describeFreshWorldDeterminism("ndp", target);
