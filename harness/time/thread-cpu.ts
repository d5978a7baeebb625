// CPU time of the calling thread. process.cpuUsage() is per process (in a worker too), which
// cannot tell a busy dom0 thread from busy guest threads; Linux keeps per-thread times in
// /proc/thread-self/stat (utime and stime, fields 14 and 15, in clock ticks).
//   threadCpuMs()   this thread's CPU ms, or undefined where /proc/thread-self is missing

import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc's utime/stime (USER_HZ, 100 on every Linux ABI Node runs on). */
const USER_HZ = 100;

/** This thread's user + system CPU time in ms (10 ms resolution), or undefined off Linux. */
export function threadCpuMs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync("/proc/thread-self/stat", "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / USER_HZ : undefined;
}
