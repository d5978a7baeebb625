// The tap-vnet fuzz target on its seeds, their mutations and random inputs (see ../kit/target-tests.ts).
import * as target from "./tap-vnet.ts";
import { describeSeedMutations } from "../kit/target-tests.ts";

describeSeedMutations("tap-vnet", target, { maxLength: 400 });
