// Which frames a tap's reader thread may shed under a flood (issue 19 item 9): a TCP SYN without
// ACK from a source never seen completing a handshake. Sources are learned from TCP segments that
// carry ACK without SYN, in a direct-mapped table of 4,096 hashes (IPv4, or IPv6 folded): a
// spoofed ACK flood can fill it, so this shields against SYN floods only. Plain CommonJS: the
// reader thread (reader-worker.cjs) requires it, and so does its test.
//   createSynClassifier(hdrLen) -> { unknownSyn(buf, base, n) }   hdrLen: virtio_net_hdr bytes before Ethernet
"use strict";

const KNOWN_BITS = 12;

/** FNV-1a of the address bytes, never 0 (0 marks an empty table entry). */
function sourceHash(buf, at, len) {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ buf[at + i], 0x01000193);
  return h | 1;
}

function createSynClassifier(hdrLen) {
  const known = new Int32Array(1 << KNOWN_BITS);
  return {
    /**
     * 1 for a TCP SYN without ACK from an unknown source, else 0 (also for anything malformed or
     * not TCP); learns the source of each TCP segment with ACK and without SYN. Reads only the
     * frame's n bytes from base.
     */
    unknownSyn(buf, base, n) {
      const end = base + n;
      let l3 = base + hdrLen + 14;
      if (l3 > end) return 0;
      let type = (buf[l3 - 2] << 8) | buf[l3 - 1];
      if (type === 0x8100) {
        l3 += 4;
        if (l3 > end) return 0;
        type = (buf[l3 - 2] << 8) | buf[l3 - 1];
      }
      let tcp, src, srcLen;
      if (type === 0x0800) {
        if (l3 + 20 > end || buf[l3 + 9] !== 6 || (((buf[l3 + 6] & 0x1f) << 8) | buf[l3 + 7]) !== 0) return 0;
        tcp = l3 + (buf[l3] & 15) * 4;
        src = l3 + 12;
        srcLen = 4;
      } else if (type === 0x86dd) {
        if (l3 + 40 > end || buf[l3 + 6] !== 6) return 0;
        tcp = l3 + 40;
        src = l3 + 8;
        srcLen = 16;
      } else return 0;
      if (tcp + 14 > end) return 0;
      const flags = buf[tcp + 13];
      const h = sourceHash(buf, src, srcLen);
      const i = h >>> (32 - KNOWN_BITS);
      if ((flags & 0x12) === 0x10) {
        known[i] = h;
        return 0;
      }
      return (flags & 0x12) === 0x02 && known[i] !== h ? 1 : 0;
    },
  };
}

module.exports = { createSynClassifier, KNOWN_SOURCES: 1 << KNOWN_BITS };
