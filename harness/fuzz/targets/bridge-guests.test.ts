// The bridge-guests fuzz target on its seeds, their mutations and random inputs (see ../kit/target-tests.ts).
import * as target from "./bridge-guests.ts";
import { describeSeedMutations } from "../kit/target-tests.ts";

describeSeedMutations("bridge-guests", target, { maxLength: 400 });
