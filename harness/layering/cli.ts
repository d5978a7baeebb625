// `npm run layering` (and `npm run lint`): checks the repository's imports against the layering
// rules of harness/layering/layering.ts; prints one line per violation and exits 1 if any.
import { join } from "node:path";
import { checkTree, formatViolation } from "./layering.ts";

const root = join(import.meta.dirname, "../..");
const { files, imports, violations } = checkTree(root);
for (const v of violations) process.stderr.write(`${formatViolation(v)}\n`);
process.stdout.write(`layering: ${files} files, ${imports} imports, ${violations.length} violation${violations.length === 1 ? "" : "s"}\n`);
process.exitCode = violations.length === 0 ? 0 : 1;
