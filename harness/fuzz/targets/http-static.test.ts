// The http-static fuzz target on its seeds, their mutations and random inputs (see ../kit/target-tests.ts).
import * as target from "./http-static.ts";
import { describeSeedMutations } from "../kit/target-tests.ts";

describeSeedMutations("http-static", target, { runs: 100, maxLength: 400 });
