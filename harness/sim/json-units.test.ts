// Every `sim` command's --json follows the units rule and its text line uses the SI formatter.
import { describe, expect, it } from "vitest";
import { fieldsWithoutUnit } from "../report/json.ts";
import { run as runBlk } from "./blk.ts";
import { run as runDhcp } from "./dhcp.ts";
import { run as runHttp } from "./http.ts";

async function captureStdout(f: () => Promise<number>): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = "";
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    out += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await f(), out };
  } finally {
    process.stdout.write = write;
  }
}

describe("sim http, sim dhcp, sim blk: units and SI figures", () => {
  it("sim http --json names the units of bytesPerResponse, bytesReceived and loss; its text gives the response size in kB", async () => {
    const json = await captureStdout(() => runHttp(["--requests", "8", "--bytes", "12000", "--json", "--quiet"]));
    expect(json.code).toBe(0);
    const o = JSON.parse(json.out) as { units: Record<string, string> };
    expect(o.units).toEqual({ bytesPerResponse: "B", bytesReceived: "B", loss: "fraction" });
    expect(fieldsWithoutUnit(o, o.units)).toEqual([]);
    const text = await captureStdout(() => runHttp(["--requests", "8", "--bytes", "12000", "--quiet"]));
    expect(text.out).toMatch(/^http: 8\/8 responses correct \(12\.0 kB each\), 0 failures, /);
  });
  it("sim dhcp --json names loss a fraction and has no other unitless quantity", async () => {
    const json = await captureStdout(() => runDhcp(["--clients", "5", "--json", "--quiet"]));
    expect(json.code).toBe(0);
    const o = JSON.parse(json.out) as { units: Record<string, string> };
    expect(o.units).toEqual({ loss: "fraction" });
    expect(fieldsWithoutUnit(o, o.units)).toEqual([]);
  });
  it("sim blk --json names the byte sizes; its text gives the disk in MiB and rates with SI prefixes", async () => {
    const json = await captureStdout(() => runBlk(["--ops", "300", "--size-mb", "8", "--json"]));
    expect(json.code).toBe(0);
    const o = JSON.parse(json.out) as { units: Record<string, string> };
    expect(o.units).toMatchObject({ bytesRead: "B", blockSize: "B", mbPerSecond: "MB/s" });
    expect(fieldsWithoutUnit(o, o.units)).toEqual([]);
    const text = await captureStdout(() => runBlk(["--ops", "300", "--size-mb", "8"]));
    expect(text.out).toMatch(
      /^sim blk: memory 8\.00 MiB, 300\/300 ops .*, 4\.00 KiB blocks, queue depth \d+\n {2}\d+(\.\d+)?k? IOPS, \d+(\.\d+)? [kMG]?B\/s over /,
    );
  });
});
