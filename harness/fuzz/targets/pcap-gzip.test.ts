// The pcap-gzip fuzz target on its seeds, their mutations and random inputs (see ../kit/target-tests.ts).
import * as target from "./pcap-gzip.ts";
import { describeSeedMutations } from "../kit/target-tests.ts";

describeSeedMutations("pcap-gzip", target, { maxLength: 400 });
