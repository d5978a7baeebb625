// The tcp-loss suite's "against Linux" rows in interleaved rounds: every row (a condition, a
// congestion control, a bottleneck or none) runs its Linux -> Linux transfer and then its netlab
// one(s) back to back, and the whole list again for the next round, so the load of a shared
// machine moves both sides of a ratio alike. One JSON line per transfer on stdout, then the
// Markdown tables of tcp-loss-grid.md's "Against Linux" section (Mbit/s; retransmissions / RTOs).
// usage: node --import tsx benchmarks/impaired-rounds.ts [ROUNDS] [FILTER]
//   ROUNDS 2; FILTER: only the rows whose label contains it ("cubic", "bbr", "50 Mbit/s", "reorder")
import { type Endpoint, type ImpairedTransferReport, impairedPathSkipReason, impairedTransfer } from "./lib/impaired-path.ts";
import { PATH_BOTTLENECK_BITS_PER_SECOND, PATH_BYTES, PATH_CONDITIONS } from "./suites/tcp-loss.ts";

const [roundsText = "2", filter = ""] = process.argv.slice(2);
const rounds = Number(roundsText);
if (!Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write("usage: node --import tsx benchmarks/impaired-rounds.ts [ROUNDS] [FILTER]\n");
  process.exit(2);
}
const skip = impairedPathSkipReason();
if (skip !== undefined) {
  process.stderr.write(`impaired-rounds: ${skip}\n`);
  process.exit(1);
}

interface Row {
  readonly table: string;
  readonly label: string;
  readonly loss: number;
  readonly reorder: number;
  readonly cc: "cubic" | "bbr";
  readonly rate: number;
  readonly pairs: readonly (readonly [Endpoint, Endpoint])[];
}
const rows: Row[] = [];
for (const [table, cc, rate] of [
  ["CUBIC on both senders", "cubic", 0],
  ["BBR on both senders, no rate limit", "bbr", 0],
  [`BBR on both senders, ${PATH_BOTTLENECK_BITS_PER_SECOND / 1e6} Mbit/s bottleneck`, "bbr", PATH_BOTTLENECK_BITS_PER_SECOND],
] as const) {
  for (const c of PATH_CONDITIONS) {
    const pairs: (readonly [Endpoint, Endpoint])[] = [
      ["linux", "linux"],
      ["netlab", "linux"],
    ];
    if (c.reorder > 0 && cc === "cubic") pairs.push(["linux", "netlab"]);
    rows.push({ table, label: `${table}: ${c.label}`, loss: c.loss, reorder: c.reorder, cc, rate, pairs });
  }
}
const chosen = rows.filter((r) => r.label.includes(filter));
const results = new Map<string, ImpairedTransferReport[]>();
const key = (r: Row, p: readonly [Endpoint, Endpoint]): string => `${r.label}|${p[0]}|${p[1]}`;
for (let round = 1; round <= rounds; round++) {
  for (const row of chosen) {
    for (const pair of row.pairs) {
      const r = await impairedTransfer({
        sender: pair[0],
        receiver: pair[1],
        bytes: PATH_BYTES,
        delayMs: 5,
        loss: row.loss,
        reorder: row.reorder,
        congestionControl: row.cc,
        ...(row.rate > 0 ? { rateBitsPerSecond: row.rate } : {}),
      });
      const list = results.get(key(row, pair)) ?? [];
      list.push(r);
      results.set(key(row, pair), list);
      const { senderInfo: _info, ...rest } = r;
      process.stdout.write(`${JSON.stringify({ round, row: row.label, ...rest })}\n`);
    }
  }
}

const mean = (xs: readonly ImpairedTransferReport[]): number => xs.reduce((s, r) => s + r.wallGoodputBitsPerSecond, 0) / xs.length;
const cell = (xs: readonly ImpairedTransferReport[]): string =>
  `${xs.map((r) => (r.wallGoodputBitsPerSecond / 1e6).toFixed(2)).join(", ")} (${xs.map((r) => `${r.retransmits}/${r.timeouts}`).join(", ")})`;
for (const table of [...new Set(chosen.map((r) => r.table))]) {
  const reverse = chosen.some((r) => r.table === table && r.pairs.length > 2);
  process.stdout.write(
    `\n${table}:\n\n| condition | Linux → Linux | netlab → Linux | ratio (means) |${reverse ? " Linux → netlab | ratio |" : ""}\n|---|---|---|---|${reverse ? "---|---|" : ""}\n`,
  );
  for (const row of chosen.filter((r) => r.table === table)) {
    const base = results.get(key(row, ["linux", "linux"])) ?? [];
    const cols = row.pairs.slice(1).map((p) => {
      const xs = results.get(key(row, p)) ?? [];
      return `${cell(xs)} | ${(mean(xs) / mean(base)).toFixed(2)}`;
    });
    const label = row.label.slice(table.length + 2);
    process.stdout.write(`| ${label} | ${cell(base)} | ${cols.join(" | ")} |${reverse && cols.length < 2 ? " | |" : ""}\n`);
  }
}
