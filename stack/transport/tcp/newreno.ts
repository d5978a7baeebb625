// NewReno window arithmetic (RFC 5681 §3.1, RFC 6582): slow start counting every
// acknowledged byte (as Linux; RFC 3465 without the L limit, so TSO-sized ACKs grow it), additive increase of one SMSS per RTT, halving on loss.
// createNewReno: the controller.
import type { CongestionControl } from "./congestion.ts";
import { initialWindow } from "./congestion.ts";

/** A NewReno controller starting with IW10. */
export function createNewReno(mss: number): CongestionControl {
  let caAcked = 0;
  const cc: CongestionControl = {
    name: "newreno",
    cwnd: initialWindow(mss),
    ssthresh: 0x7fffffff,
    onAck(acked, smss) {
      if (cc.cwnd < cc.ssthresh) {
        cc.cwnd += acked;
      } else {
        caAcked += acked;
        if (caAcked >= cc.cwnd) { caAcked -= cc.cwnd; cc.cwnd += smss; }
      }
    },
    onCongestion(flight, smss) {
      // RFC 5681 §3.1 eq. 4
      cc.ssthresh = Math.max(Math.floor(flight / 2), 2 * smss);
      cc.cwnd = cc.ssthresh;
      caAcked = 0;
    },
    onTimeout(flight, smss) {
      cc.ssthresh = Math.max(Math.floor(flight / 2), 2 * smss);
      cc.cwnd = smss;
      caAcked = 0;
    },
    onRecoveryEnd() {
      cc.cwnd = cc.ssthresh;
    },
  };
  return cc;
}
