// The ipv6-reassembly fuzz target on its seeds, their mutations and random inputs, and deterministic on its corpus (see ../kit/target-tests.ts).
import * as target from "./ipv6-reassembly.ts";
import { describeFreshWorldDeterminism, describeSeedMutations } from "../kit/target-tests.ts";

describeSeedMutations("ipv6-reassembly", target, { maxLength: 240 });
describeFreshWorldDeterminism("ipv6-reassembly", target);
