// netlab's xenstored against Debian's real C xenstored 4.17 (xen-utils-4.17, fetched and
// unpacked by `npm run setup`, run under harness/xenstore/real/xsd-shim.c): every script of
// scripts.ts on both, compared step by step; and Xen's own client test (test-xenstore, from the
// same package) against netlab's socket server. Skipped, with the reason, where the package,
// the shim or root is missing.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createXenstoreServer } from "../../../xen-sim/xenstore/server.ts";
import { listenXenstoreSocket } from "../socket-transport.ts";
import { compareScripts, netlabTarget, realTarget, type DiffDifference } from "./differential.ts";
import { realXenstoredStatus } from "./real-xenstored.ts";
import { DIFF_SCRIPTS, KNOWN_DIFFERENCES, RANDOM_SCRIPTS, scriptLimits } from "./scripts.ts";

const status = realXenstoredStatus();
if (!status.ok) console.warn(`skipping the xenstored differential test: ${status.reason}`);

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");
const TEST_XENSTORE = join(ROOT, "build/xenstored-real/root/usr/lib/xen-4.17/bin/test-xenstore");

function show(d: DiffDifference): string {
  return `  [${d.script}] #${d.step} ${d.request}\n    netlab: ${d.netlab}\n    real:   ${d.real}`;
}

describe.skipIf(!status.ok)("netlab's xenstored against Debian's real xenstored 4.17", () => {
  it("answers every script step as the real daemon does, apart from the documented differences", async () => {
    let checks = 0,
      agree = 0;
    const differences: DiffDifference[] = [];
    const scripts = [...DIFF_SCRIPTS, ...RANDOM_SCRIPTS];
    for (const script of scripts) {
      const limits = scriptLimits(script.name);
      const r = await compareScripts(
        [script],
        () => netlabTarget({ quotas: limits.netlab }),
        () => realTarget(limits.real),
      );
      checks += r.checks;
      agree += r.agree;
      differences.push(...r.differences);
    }
    console.log(
      `xenstored differential: ${agree} of ${checks} steps agree with Debian's xenstored 4.17 (${DIFF_SCRIPTS.length} scripts, ${RANDOM_SCRIPTS.length} seeded random sessions)`,
    );
    const known = (d: DiffDifference) => KNOWN_DIFFERENCES.some((k) => k.script === d.script && k.request === d.request);
    const unexpected = differences.filter((d) => !known(d));
    const gone = KNOWN_DIFFERENCES.filter((k) => !differences.some((d) => d.script === k.script && d.request === k.request));
    expect(unexpected.map(show).join("\n"), "differences not listed in scripts.ts KNOWN_DIFFERENCES").toBe("");
    expect(
      gone.map((k) => `[${k.script}] ${k.request}`),
      "listed differences that no longer occur",
    ).toEqual([]);
    expect(checks).toBeGreaterThan(1500);
  }, 120_000);

  it.skipIf(!existsSync(TEST_XENSTORE))(
    "Xen's test-xenstore passes all its tests and a random run against netlab's socket server",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "netlab-test-xenstore-"));
      const sock = join(dir, "socket");
      const listener = await listenXenstoreSocket(createXenstoreServer(), sock);
      const run = (args: string[]) =>
        new Promise<{ code: number | null; out: string }>((done) => {
          const p = spawn(TEST_XENSTORE, args, { env: { ...process.env, XENSTORED_PATH: sock } });
          let out = "";
          p.stdout.on("data", (b: Buffer) => {
            out += b.toString();
          });
          p.stderr.on("data", (b: Buffer) => {
            out += b.toString();
          });
          const t = setTimeout(() => p.kill("SIGKILL"), 60_000);
          p.on("close", (code) => {
            clearTimeout(t);
            done({ code, out });
          });
        });
      try {
        const all = await run([]);
        expect(all.code, all.out).toBe(0);
        const ran = all.out.split("\n").filter((l) => / ns$/.test(l));
        expect(ran.length, all.out).toBe(12);
        const random = await run(["-r", "3"]);
        expect(random.code, random.out).toBe(0);
      } finally {
        await listener.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
