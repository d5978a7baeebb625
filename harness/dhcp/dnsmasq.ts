// dnsmasq's command line as the lab runs it on the kernel side (interop tests): in the
// foreground, no config file, no DNS, bound to one interface, logging every DHCP exchange to
// stderr, as root; the caller adds what the test serves (ranges, options, --enable-ra, files).
//   dnsmasqArgs(ifname, serve)   the arguments after "dnsmasq"

/** dnsmasq's arguments: --no-daemon, --conf-file=/dev/null, --port=0, bound to ifname, then `serve`, then DHCP logs on stderr as root. */
export function dnsmasqArgs(ifname: string, serve: readonly string[]): string[] {
  return [
    "--no-daemon",
    "--conf-file=/dev/null",
    "--port=0",
    `--interface=${ifname}`,
    "--bind-interfaces",
    ...serve,
    "--log-dhcp",
    "--log-facility=-",
    "--user=root",
  ];
}
