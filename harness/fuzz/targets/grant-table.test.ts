// The grant-table fuzz target on its seeds, their mutations and random inputs (see ../kit/target-tests.ts).
import * as target from "./grant-table.ts";
import { describeSeedMutations } from "../kit/target-tests.ts";

describeSeedMutations("grant-table", target, { maxLength: 400 });
