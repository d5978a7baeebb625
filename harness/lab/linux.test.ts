import { describe, expect, it } from "vitest";
import { linuxCongestionControl, parseIperf3Json } from "./linux.ts";

// iperf3 3.12's -c -J --get-server-output (server run with -s -1 -J -i 0.5), over loopback, 20 Mb/s
// for 1 s, abridged to the fields parseIperf3Json reads and a few around them.
const IPERF3_RUN = JSON.stringify({
  start: { connected: [{ socket: 5, local_host: "127.0.0.1", local_port: 60348, remote_host: "127.0.0.1", remote_port: 5998 }], version: "iperf 3.12" },
  intervals: [
    {
      streams: [
        {
          socket: 5,
          start: 0,
          end: 0.500385,
          seconds: 0.5003849864006042,
          bytes: 1310720,
          bits_per_second: 20955384.92357,
          retransmits: 0,
          snd_cwnd: 720313,
          rtt: 65,
          sender: true,
        },
      ],
      sum: {
        start: 0,
        end: 0.500385,
        seconds: 0.5003849864006042,
        bytes: 1310720,
        bits_per_second: 20955384.92357,
        retransmits: 0,
        omitted: false,
        sender: true,
      },
    },
    {
      streams: [
        {
          socket: 5,
          start: 0.500385,
          end: 1.000125,
          seconds: 0.49974000453948975,
          bytes: 1310720,
          bits_per_second: 20982430.673451137,
          retransmits: 2,
          snd_cwnd: 360156,
          rtt: 104,
          sender: true,
        },
      ],
      sum: {
        start: 0.500385,
        end: 1.000125,
        seconds: 0.49974000453948975,
        bytes: 1310720,
        bits_per_second: 20982430.673451137,
        retransmits: 2,
        omitted: false,
        sender: true,
      },
    },
  ],
  end: {
    sum_sent: { start: 0, end: 1.000125, seconds: 1.000125, bytes: 2621440, bits_per_second: 20968898.887639046, retransmits: 2, sender: true },
    sum_received: { start: 0, end: 1.002206, seconds: 1.002206, bytes: 2621440, bits_per_second: 20925358.65879869, sender: true },
    sender_tcp_congestion: "reno",
    receiver_tcp_congestion: "reno",
  },
  server_output_json: {
    intervals: [
      { sum: { start: 0, end: 0.502369, seconds: 0.502368986606598, bytes: 1310720, bits_per_second: 20872626.056853574, omitted: false, sender: false } },
      {
        sum: { start: 0.502369, end: 1.000094, seconds: 0.4977250099182129, bytes: 1310720, bits_per_second: 21067376.14355172, omitted: false, sender: false },
      },
    ],
  },
});

describe("iperf3 flows of linux hosts", () => {
  it("parseIperf3Json() takes totals from end, goodput per interval from the server's intervals and cwnd/RTT from the client's nearest one", () => {
    const r = parseIperf3Json(IPERF3_RUN);
    expect(r).toMatchObject({
      connected: true,
      version: "iperf 3.12",
      senderCongestionControl: "reno",
      seconds: 1.002206,
      sentBytes: 2621440,
      receivedBytes: 2621440,
      senderBitsPerSecond: 20968898.887639046,
      receiverBitsPerSecond: 20925358.65879869,
      retransmits: 2,
    });
    expect(r.error).toBeUndefined();
    expect(r.intervals).toEqual([
      { t: 502.369, receivedBitsPerSecond: 20872626.056853574, receivedBytes: 1310720, cwnd: 720313, srttMs: 0.065 },
      { t: 1000.094, receivedBitsPerSecond: 21067376.14355172, receivedBytes: 1310720, cwnd: 360156, srttMs: 0.104 },
    ]);
  });

  it("parseIperf3Json() reports iperf3's own error, and output that is not JSON, without throwing", () => {
    const refused = parseIperf3Json(
      JSON.stringify({
        start: { connected: [], version: "iperf 3.12" },
        intervals: [],
        end: {},
        error: "unable to connect to server - server may have stopped running or use a different port, firewall issue, etc.: Connection refused",
      }),
    );
    expect([refused.connected, refused.receivedBytes, refused.intervals.length]).toEqual([false, 0, 0]);
    expect(refused.error).toMatch(/^unable to connect to server/);
    expect(parseIperf3Json("iperf3: error - some failure\n").error).toBe("iperf3 output is not JSON: iperf3: error - some failure");
    expect(parseIperf3Json("").error).toBe("iperf3 printed nothing");
  });

  it("linuxCongestionControl() gives the kernel's names: newreno is Linux's reno", () => {
    expect([linuxCongestionControl("newreno"), linuxCongestionControl("cubic")]).toEqual(["reno", "cubic"]);
  });
});
