// The xenstore-client fuzz target on its seeds, their mutations and random inputs (see ../kit/target-tests.ts).
import * as target from "./xenstore-client.ts";
import { describeSeedMutations } from "../kit/target-tests.ts";

describeSeedMutations("xenstore-client", target, { maxLength: 400 });
