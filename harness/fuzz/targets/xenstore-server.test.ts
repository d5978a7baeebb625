// The xenstore-server fuzz target on its seeds, their mutations and random inputs (see ../kit/target-tests.ts).
import * as target from "./xenstore-server.ts";
import { describeSeedMutations } from "../kit/target-tests.ts";

describeSeedMutations("xenstore-server", target);
