// Runs every corpora/drill/*.pkt on the netlab target, over IPv4, over IPv6 and with IPv4-mapped
// AF_INET6 sockets over IPv4 (packetdrill's --ip_version; harness/drill/packets.ts). A script fails
// the test when it fails and is not listed in corpora/drill/KNOWN-DIFFERENCES.md, or is listed and
// no longer fails (the same list for all three: netlab's TCP is one layer over either family, and
// a mapped socket is stack.tcp6 over that layer's IPv4 side); skips are reported as skipped tests
// with the construct named.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createNetlabDrillTarget } from "./netlab-target.ts";
import { formatParseError, parseDrillScript } from "./parser.ts";

const DIR = fileURLToPath(new URL("../../corpora/drill/", import.meta.url));
const files = readdirSync(DIR)
  .filter((f) => f.endsWith(".pkt"))
  .sort();
const known = new Set([...readFileSync(join(DIR, "KNOWN-DIFFERENCES.md"), "utf8").matchAll(/^\|\s*([\w.-]+\.pkt)\s*\|/gm)].map((m) => m[1] ?? ""));

const target = createNetlabDrillTarget();
const runAll = (ipVersion: 4 | 6 | "mapped") =>
  Promise.all(
    files.map(async (file) => {
      const parsed = parseDrillScript(readFileSync(join(DIR, file), "utf8"), `corpora/drill/${file}`);
      if (!parsed.ok) return { file, parseError: formatParseError(parsed.error) } as const;
      return { file, result: await target.run(parsed.value, { toleranceUsecs: 4000, scriptTimeoutMs: 600_000, ipVersion }) } as const;
    }),
  );

for (const [ipVersion, results] of [
  [4, await runAll(4)],
  [6, await runAll(6)],
  ["mapped", await runAll("mapped")],
] as const)
  describe(`corpora/drill on the netlab target ${ipVersion === "mapped" ? "with IPv4-mapped AF_INET6 sockets" : `over IPv${ipVersion}`}`, () => {
    it("has scripts", () => {
      expect(files.length).toBeGreaterThan(0);
    });
    for (const r of results) {
      if ("parseError" in r) {
        it(`${r.file} parses`, () => {
          throw new Error(r.parseError);
        });
        continue;
      }
      const { result } = r;
      if (result.result === "skip") {
        it.skip(`${r.file}: skipped: ${result.reason ?? ""}`, () => {});
        continue;
      }
      if (known.has(r.file)) {
        it(`${r.file} fails as KNOWN-DIFFERENCES.md records`, () => {
          expect(result.result, `${r.file} passes now: remove it from KNOWN-DIFFERENCES.md`).toBe("fail");
        });
      } else {
        it(`${r.file} passes`, () => {
          const where = result.pos === undefined ? "" : `${result.pos.file}:${result.pos.line}: `;
          expect(result.result, `${where}${result.reason ?? ""}`).toBe("pass");
        });
      }
    }
  });
