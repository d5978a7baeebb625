// CUBIC (RFC 9438): W_cubic(t) = C·(t − K)³ + W_max with C = 0.4, β = 0.7, fast
// convergence (§4.7) and the Reno-friendly region (§4.3); slow start as in RFC 5681.
// Windows are tracked in segments internally and exposed in bytes.
// createCubic: the controller.
import type { Instant } from "../../time.ts";
import type { CongestionControl } from "./congestion.ts";
import { initialWindow } from "./congestion.ts";

const C = 0.4;
const BETA = 0.7;
/** RFC 9438 §4.3: alpha_cubic = 3(1 − β)/(1 + β). */
const ALPHA = (3 * (1 - BETA)) / (1 + BETA);

/** A CUBIC controller starting with IW10. */
export function createCubic(mss: number): CongestionControl {
  let wMax = 0;
  let k = 0;
  let epochStart = -1;
  let wEst = 0;
  let lastRtt = 100;

  const reduce = (smss: number): void => {
    const cwndSeg = cc.cwnd / smss;
    // §4.7 fast convergence
    wMax = cwndSeg < wMax ? cwndSeg * (1 + BETA) / 2 : cwndSeg;
    cc.ssthresh = Math.max(Math.floor(cc.cwnd * BETA), 2 * smss);
    epochStart = -1;
  };

  const cc: CongestionControl = {
    name: "cubic",
    cwnd: initialWindow(mss),
    ssthresh: 0x7fffffff,
    onAck(acked: number, smss: number, now: Instant, rttMs: number | undefined) {
      if (rttMs !== undefined && rttMs > 0) lastRtt = rttMs;
      if (cc.cwnd < cc.ssthresh) {
        cc.cwnd += acked;
        return;
      }
      const cwndSeg = cc.cwnd / smss;
      if (epochStart < 0) {
        epochStart = now;
        if (wMax <= cwndSeg) { k = 0; wMax = cwndSeg; }
        else k = Math.cbrt((wMax - cwndSeg) / C);
        wEst = cwndSeg;
      }
      const t = (now - epochStart + lastRtt) / 1000;
      const target = Math.max(cwndSeg, Math.min(C * (t - k) ** 3 + wMax, 1.5 * cwndSeg));
      // §4.3 Reno-friendly estimate
      wEst += ALPHA * (acked / smss) / cwndSeg;
      let next = target;
      if (wEst > next) next = wEst;
      // §4.4: cwnd grows by (target − cwnd)/cwnd per acknowledged segment
      if (next > cwndSeg) cc.cwnd += ((next - cwndSeg) / cwndSeg) * acked;
    },
    onCongestion(_flight, smss) {
      reduce(smss);
      cc.cwnd = cc.ssthresh;
    },
    onTimeout(_flight, smss) {
      reduce(smss);
      cc.cwnd = smss;
    },
    onRecoveryEnd() {
      cc.cwnd = cc.ssthresh;
      epochStart = -1;
    },
  };
  return cc;
}
