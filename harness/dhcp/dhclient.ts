// ISC dhclient's command line as the lab runs it on the kernel side (recordings, interop tests):
// in the foreground, one attempt, verbose, no script (the lab only wants the lease exchange),
// with its lease and pid files in the caller's scratch folder.
//   dhclientArgs(options)   the arguments after "dhclient"
import { join } from "node:path";

/** What a dhclient run needs: the interface, a scratch folder, and whether it is DHCPv6 (-6). */
export interface DhclientOptions {
  readonly ifname: string;
  readonly dir: string;
  readonly ipv6?: boolean;
}

/** dhclient's arguments: -d -1 -v, -sf /bin/true, lease and pid files in dir (dhclient6.* with -6). */
export function dhclientArgs(options: DhclientOptions): string[] {
  const stem = options.ipv6 === true ? "dhclient6" : "dhclient";
  return [
    ...(options.ipv6 === true ? ["-6"] : []),
    "-d",
    "-1",
    "-v",
    "-sf",
    "/bin/true",
    "-lf",
    join(options.dir, `${stem}.leases`),
    "-pf",
    join(options.dir, `${stem}.pid`),
    options.ifname,
  ];
}
