#!/bin/sh
# The kernel drill target's stand-in for packetdrill's gtests/net/common/defaults.sh: scripts
# that run `../common/defaults.sh` get this file instead, run inside the target's namespace.
# It pins the Linux defaults packetdrill scripts assume, so a script's expectations do not
# depend on the host:
#   SACK, D-SACK, timestamps, window scaling on; ECN off; RACK + TLP (early_retrans 3,
#   recovery 1); reordering 3; F-RTO on; no cached metrics; no MTU probing; no autocorking
#   (a write goes out at once); tcp_rmem max 15728640, so the SYN's window scale is 8.
# Initial cwnd 10 and MSS 1460 at MTU 1500 are the kernel's own defaults. CUBIC cannot be a
# namespace default here (the host's tcp_allowed_congestion_control lacks it): the agent sets
# TCP_CONGESTION=cubic on every socket it creates unless a script chose another algorithm.
sysctl -q -w \
  net.ipv4.tcp_sack=1 \
  net.ipv4.tcp_dsack=1 \
  net.ipv4.tcp_timestamps=1 \
  net.ipv4.tcp_window_scaling=1 \
  net.ipv4.tcp_ecn=0 \
  net.ipv4.tcp_early_retrans=3 \
  net.ipv4.tcp_recovery=1 \
  net.ipv4.tcp_reordering=3 \
  net.ipv4.tcp_frto=2 \
  net.ipv4.tcp_no_metrics_save=1 \
  net.ipv4.tcp_mtu_probing=0 \
  net.ipv4.tcp_autocorking=0 \
  net.ipv4.tcp_min_tso_segs=2 \
  net.ipv4.tcp_syncookies=1 \
  net.ipv4.tcp_syn_retries=6 \
  net.ipv4.tcp_synack_retries=5 \
  net.ipv4.tcp_retries2=15 \
  net.ipv4.tcp_fin_timeout=60 \
  net.ipv4.tcp_moderate_rcvbuf=1 \
  "net.ipv4.tcp_rmem=4096 540000 15728640" \
  "net.ipv4.tcp_wmem=4096 16384 4194304" \
  >/dev/null
ip tcp_metrics flush all >/dev/null 2>&1 || true
exit 0
