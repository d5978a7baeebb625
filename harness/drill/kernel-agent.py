# The kernel drill target's system-call agent: runs inside the test's network namespace
# (started with `ip netns exec NS python3 -u kernel-agent.py`) and executes the script's
# system calls on real kernel sockets. Protocol: one JSON object per line on stdin
# ({"id": n, "op": "...", ...}), one JSON reply per line on stdout
# ({"id": n, "ret": r, "errno": "EAGAIN"?, "value": ...?}). Every request runs in its own
# thread, so a blocking call (accept, read, connect, poll) does not hold up the next request.
# Constant names (SOL_TCP, TCP_NODELAY, SHUT_WR, ...) are resolved with Python's socket module.
import errno
import fcntl
import json
import os
import select
import socket
import struct
import sys
import threading

socks = {}
lock = threading.Lock()
out_lock = threading.Lock()

TCP_INFO_FIELDS = [
    ("tcpi_state", "B"), ("tcpi_ca_state", "B"), ("tcpi_retransmits", "B"), ("tcpi_probes", "B"),
    ("tcpi_backoff", "B"), ("tcpi_options", "B"), ("_wscale", "B"), ("_flags", "B"),
    ("tcpi_rto", "I"), ("tcpi_ato", "I"), ("tcpi_snd_mss", "I"), ("tcpi_rcv_mss", "I"),
    ("tcpi_unacked", "I"), ("tcpi_sacked", "I"), ("tcpi_lost", "I"), ("tcpi_retrans", "I"),
    ("tcpi_fackets", "I"), ("tcpi_last_data_sent", "I"), ("tcpi_last_ack_sent", "I"),
    ("tcpi_last_data_recv", "I"), ("tcpi_last_ack_recv", "I"), ("tcpi_pmtu", "I"),
    ("tcpi_rcv_ssthresh", "I"), ("tcpi_rtt", "I"), ("tcpi_rttvar", "I"), ("tcpi_snd_ssthresh", "I"),
    ("tcpi_snd_cwnd", "I"), ("tcpi_advmss", "I"), ("tcpi_reordering", "I"), ("tcpi_rcv_rtt", "I"),
    ("tcpi_rcv_space", "I"), ("tcpi_total_retrans", "I"), ("tcpi_pacing_rate", "Q"),
    ("tcpi_max_pacing_rate", "Q"), ("tcpi_bytes_acked", "Q"), ("tcpi_bytes_received", "Q"),
    ("tcpi_segs_out", "I"), ("tcpi_segs_in", "I"), ("tcpi_notsent_bytes", "I"), ("tcpi_min_rtt", "I"),
    ("tcpi_data_segs_in", "I"), ("tcpi_data_segs_out", "I"), ("tcpi_delivery_rate", "Q"),
    ("tcpi_busy_time", "Q"), ("tcpi_rwnd_limited", "Q"), ("tcpi_sndbuf_limited", "Q"),
    ("tcpi_delivered", "I"), ("tcpi_delivered_ce", "I"), ("tcpi_bytes_sent", "Q"),
    ("tcpi_bytes_retrans", "Q"), ("tcpi_dsack_dups", "I"), ("tcpi_reord_seen", "I"),
    ("tcpi_rcv_ooopack", "I"), ("tcpi_snd_wnd", "I"),
]


def const(name):
    if isinstance(name, int):
        return name
    if isinstance(name, list):
        v = 0
        for n in name:
            v |= const(n)
        return v
    for mod in (socket, os, select, fcntl, errno):
        if hasattr(mod, name):
            return getattr(mod, name)
    aliases = {"SOL_TCP": socket.IPPROTO_TCP, "SOL_IP": socket.IPPROTO_IP}
    if name in aliases:
        return aliases[name]
    raise ValueError("unknown constant " + name)


def parse_tcp_info(raw):
    info = {}
    off = 0
    for name, fmt in TCP_INFO_FIELDS:
        size = struct.calcsize(fmt)
        if off + size > len(raw):
            break
        if fmt == "Q" and off % 8:
            off += 8 - off % 8
        (v,) = struct.unpack_from("=" + fmt, raw, off)
        off += size
        if name == "_wscale":
            info["tcpi_snd_wscale"] = v & 0xF
            info["tcpi_rcv_wscale"] = v >> 4
        elif name == "_flags":
            info["tcpi_delivery_rate_app_limited"] = v & 1
            info["tcpi_fastopen_client_fail"] = (v >> 1) & 3
        elif not name.startswith("_"):
            info[name] = v
    return info


# argv: [inherited namespace default, algorithm to pin]. While the namespace still has the
# default it inherited from the host (BBR here), each new TCP socket gets the pinned one
# (CUBIC, packetdrill's assumption); a script that set its own default keeps it.
INHERITED_CC = sys.argv[1] if len(sys.argv) > 1 else ""
PINNED_CC = sys.argv[2] if len(sys.argv) > 2 else ""


def pin_congestion_control(s):
    if not PINNED_CC or s.type != socket.SOCK_STREAM:
        return
    with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
        current = f.read().strip()
    if current == INHERITED_CC and current != PINNED_CC:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, PINNED_CC.encode())


def sock(fd):
    with lock:
        s = socks.get(fd)
    if s is None:
        raise OSError(errno.EBADF, "bad fd")
    return s


def handle(req):
    op = req["op"]
    if op == "socket":
        s = socket.socket(const(req["family"]), const(req["type"]), const(req["proto"]))
        if "v6only" in req:  # packetdrill's ipv4-mapped-ipv6: a dual-stack AF_INET6 socket
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if req["v6only"] else 0)
        pin_congestion_control(s)
        with lock:
            socks[s.fileno()] = s
        return s.fileno(), None
    if op == "bind":
        sock(req["fd"]).bind((req["host"], req["port"]))
        return 0, None
    if op == "listen":
        sock(req["fd"]).listen(req["backlog"])
        return 0, None
    if op == "accept":
        c, _ = sock(req["fd"]).accept()
        with lock:
            socks[c.fileno()] = c
        return c.fileno(), None
    if op == "connect":
        s = sock(req["fd"])
        r = s.connect_ex((req["host"], req["port"]))
        if r != 0:
            raise OSError(r, os.strerror(r))
        return 0, None
    if op in ("write", "send"):
        n = sock(req["fd"]).send(b"\0" * req["len"], const(req.get("flags", 0)))
        return n, None
    if op in ("read", "recv"):
        data = sock(req["fd"]).recv(req["len"], const(req.get("flags", 0)))
        return len(data), None
    if op == "close":
        s = sock(req["fd"])
        with lock:
            socks.pop(req["fd"], None)
        s.close()
        return 0, None
    if op == "shutdown":
        sock(req["fd"]).shutdown(const(req["how"]))
        return 0, None
    if op == "setsockopt":
        s = sock(req["fd"])
        level, name, kind, value = const(req["level"]), const(req["name"]), req["kind"], req["value"]
        if kind == "int":
            s.setsockopt(level, name, int(value))
        elif kind == "linger":
            s.setsockopt(level, name, struct.pack("ii", value[0], value[1]))
        else:
            s.setsockopt(level, name, value.encode())
        return 0, None
    if op == "getsockopt":
        s = sock(req["fd"])
        level, name, kind = const(req["level"]), const(req["name"]), req["kind"]
        if kind == "int":
            return 0, s.getsockopt(level, name)
        if kind == "linger":
            return 0, list(struct.unpack("ii", s.getsockopt(level, name, 8)))
        if kind == "tcp_info":
            return 0, parse_tcp_info(s.getsockopt(level, name, 512))
        raw = s.getsockopt(level, name, 64)
        return 0, raw.split(b"\0", 1)[0].decode()
    if op == "fcntl":
        fd = req["fd"]
        sock(fd)
        if "arg" in req:
            return fcntl.fcntl(fd, const(req["cmd"]), const(req["arg"])), None
        return fcntl.fcntl(fd, const(req["cmd"])), None
    if op == "poll":
        p = select.poll()
        for f in req["fds"]:
            p.register(f["fd"], const(f["events"]))
        ready = dict(p.poll(req["timeout"]))
        return len(ready), [ready.get(f["fd"], 0) for f in req["fds"]]
    if op == "tcp_info":
        return 0, parse_tcp_info(sock(req["fd"]).getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512))
    if op == "constants":
        return 0, {n: const(n) for n in req["names"]}
    raise ValueError("unknown op " + op)


def reply(msg):
    line = json.dumps(msg) + "\n"
    with out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def serve(req):
    try:
        ret, value = handle(req)
        msg = {"id": req["id"], "ret": ret}
        if value is not None:
            msg["value"] = value
    except OSError as e:
        msg = {"id": req["id"], "ret": -1, "errno": errno.errorcode.get(e.errno, str(e.errno))}
    except Exception as e:  # a request the agent cannot express: the runner reports it
        msg = {"id": req["id"], "ret": -1, "error": "%s: %s" % (type(e).__name__, e)}
    reply(msg)


def main():
    reply({"id": 0, "ret": 0, "ready": True})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        threading.Thread(target=serve, args=(req,), daemon=True).start()
    os._exit(0)


main()
