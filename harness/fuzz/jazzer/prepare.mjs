// Makes Jazzer.js 4.x load on a glibc older than 2.38 (Debian 12): builds glibc-shim.c into
// build/jazzer/glibc-shim.so and marks the addon's GLIBC_2.38 / GLIBCXX_3.4.32 version
// requirements weak (ELF vna_flags |= VER_FLG_WEAK), keeping the original beside it as .orig.
// Idempotent. Run by `npm run setup`; exits 0 with a message when there is nothing to do or no
// way to do it (the fuzz runner then falls back to jsfuzz and says so).
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const out = path.join(root, "build/jazzer");
const VER_FLG_WEAK = 2;
const SHT_GNU_VERNEED = 0x6ffffffe;
const NEWER = /^GLIBC_2\.(3[89]|[4-9]\d)$|^GLIBCXX_3\.4\.(3[2-9]|[4-9]\d)$/;

/** Marks every version requirement newer than this machine's libraries weak; returns their names. */
export function weakenNewVersionNeeds(elf) {
  const b = Buffer.from(elf);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error("not a 64-bit little-endian ELF file");
  const shoff = Number(b.readBigUInt64LE(0x28)),
    shentsize = b.readUInt16LE(0x3a),
    shnum = b.readUInt16LE(0x3c);
  const section = (i) => {
    const o = shoff + i * shentsize;
    return { type: b.readUInt32LE(o + 4), offset: Number(b.readBigUInt64LE(o + 0x18)), link: b.readUInt32LE(o + 0x28) };
  };
  const weakened = [];
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type !== SHT_GNU_VERNEED) continue;
    const strtab = section(s.link).offset;
    const name = (off) => b.toString("latin1", strtab + off, b.indexOf(0, strtab + off));
    for (let vn = s.offset; ; ) {
      const count = b.readUInt16LE(vn + 2);
      for (let k = 0, aux = vn + b.readUInt32LE(vn + 8); k < count; k++) {
        const v = name(b.readUInt32LE(aux + 8));
        if (NEWER.test(v)) {
          b.writeUInt16LE(b.readUInt16LE(aux + 4) | VER_FLG_WEAK, aux + 4);
          weakened.push(v);
        }
        const next = b.readUInt32LE(aux + 12);
        if (next === 0) break;
        aux += next;
      }
      const next = b.readUInt32LE(vn + 12);
      if (next === 0) break;
      vn += next;
    }
  }
  return { bytes: b, weakened };
}

function glibcVersion() {
  try {
    const m = /(\d+)\.(\d+)/.exec(execFileSync("ldd", ["--version"], { encoding: "utf8" }).split("\n")[0] ?? "");
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  } catch {
    return undefined;
  }
}

function main() {
  const require = createRequire(import.meta.url);
  let addon;
  try {
    addon = path.join(path.dirname(require.resolve("@jazzer.js/fuzzer/package.json")), "prebuilds", `fuzzer-${process.platform}-${process.arch}.node`);
  } catch {
    console.log("netlab setup: @jazzer.js is not installed (npm ci); fuzzing falls back to jsfuzz.");
    return;
  }
  const v = glibcVersion();
  if (process.platform !== "linux" || v === undefined || v[0] > 2 || (v[0] === 2 && v[1] >= 38)) {
    console.log("netlab setup: Jazzer.js needs no shim here.");
    return;
  }
  mkdirSync(out, { recursive: true });
  const shim = path.join(out, "glibc-shim.so");
  try {
    execFileSync("gcc", ["-shared", "-fPIC", "-O2", "-o", shim, path.join(here, "glibc-shim.c"), `-Wl,--version-script=${path.join(here, "glibc-shim.map")}`], {
      stdio: "inherit",
    });
  } catch {
    console.log("netlab setup: gcc could not build the Jazzer.js glibc shim; fuzzing falls back to jsfuzz.");
    return;
  }
  const orig = `${addon}.orig`;
  if (!existsSync(orig)) copyFileSync(addon, orig);
  const { bytes, weakened } = weakenNewVersionNeeds(readFileSync(orig));
  writeFileSync(addon, bytes);
  console.log(`netlab setup: Jazzer.js prepared for glibc ${v.join(".")} (shim ${path.relative(root, shim)}; weak: ${weakened.join(", ") || "none"}).`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
