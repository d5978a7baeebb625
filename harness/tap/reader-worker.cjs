// Tap reader thread: blocks in poll(2) on the tap fd and a wake pipe, reads frames with
// non-blocking read(2) into a shared ring of fixed-size slots, and tells the main thread
// (one message per batch, only when the main thread said it is idle). Never blocks the
// main thread or libuv's thread pool; exits when STOP is set and the wake pipe is written.
// Under a flood it sheds new connections first (issue 19 item 9): a TCP SYN (no ACK) from a
// source not seen completing a handshake gets a slot only while fewer than synSlots frames wait;
// past that it is read and dropped here (counted in ctl[SHED_SYN]) so the kernel's queue keeps
// draining and frames of established connections, and SYNs of sources known from earlier ACKs,
// still find room (syn-classifier.cjs says which SYNs are from unknown sources).
"use strict";
const { workerData, parentPort } = require("node:worker_threads");
const koffi = require(workerData.koffiPath);
const { createSynClassifier } = require("./syn-classifier.cjs");

const libc = koffi.load("libc.so.6");
const read = libc.func("long read(int fd, void *buf, unsigned long n)");
const poll = libc.func("int poll(void *fds, unsigned long n, int timeout)");

const HEAD = 0,
  TAIL = 1,
  STOP = 2,
  MAIN_IDLE = 3,
  SHED_SYN = 4;
const EAGAIN = 11,
  EINTR = 4;
const { fd, wakeFd, slots, slotSize, pollTimeoutMs, batch, hdrLen } = workerData;
const synSlots = Math.max(1, Math.min(slots, workerData.synSlots ?? slots));
const ctl = new Int32Array(workerData.ctl);
const ring = new Uint8Array(workerData.ring);
const lengths = new Int32Array(workerData.lengths);
const pfds = new Uint8Array(16);
const pv = new DataView(pfds.buffer);
pv.setInt32(0, fd, true);
pv.setInt16(4, 1, true);
pv.setInt32(8, wakeFd, true);
pv.setInt16(12, 1, true);
const scratch = new Uint8Array(64);
// One view per slot, made once: a subarray per read(2) would be garbage at the flood's rate.
const views = Array.from({ length: slots }, (_, i) => ring.subarray(i * slotSize, (i + 1) * slotSize));

const { unknownSyn } = createSynClassifier(hdrLen);

function signal() {
  if (Atomics.exchange(ctl, MAIN_IDLE, 0) === 1) parentPort.postMessage(0);
}

let produced = 0;
for (;;) {
  if (Atomics.load(ctl, STOP) !== 0) break;
  const head = Atomics.load(ctl, HEAD);
  const tail = Atomics.load(ctl, TAIL);
  if (((head - tail) | 0) >= slots) {
    if (produced > 0) {
      signal();
      produced = 0;
    }
    Atomics.wait(ctl, TAIL, tail, pollTimeoutMs);
    continue;
  }
  const slot = (head >>> 0) % slots;
  const n = read(fd, views[slot], slotSize);
  if (n > 0) {
    // Classified always, so sources are learned before a flood begins.
    if (unknownSyn(ring, slot * slotSize, n) === 1 && ((head - tail) | 0) >= synSlots) {
      // The slot is reused by the next read: this SYN is dropped.
      Atomics.add(ctl, SHED_SYN, 1);
      continue;
    }
    lengths[slot] = n;
    Atomics.store(ctl, HEAD, (head + 1) | 0);
    if (++produced >= batch) {
      signal();
      produced = 0;
    }
    continue;
  }
  const e = n < 0 ? koffi.errno() : 0;
  if (n < 0 && e !== EAGAIN && e !== EINTR) {
    parentPort.postMessage({ error: e });
    break;
  }
  if (produced > 0) {
    signal();
    produced = 0;
  }
  pv.setInt16(6, 0, true);
  pv.setInt16(14, 0, true);
  const r = poll(pfds, 2, pollTimeoutMs);
  if (r > 0 && pv.getInt16(14, true) !== 0) read(wakeFd, scratch, scratch.length);
}
