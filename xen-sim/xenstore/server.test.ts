import { describe, expect, it } from "vitest";
import { createXenstoreServer } from "./server.ts";
import { createRawPeer } from "./test-peer.ts";
import {
  XS_DEBUG,
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_ERROR,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR,
  XS_READ,
  XS_RELEASE,
  XS_RESET_WATCHES,
  XS_RESUME,
  XS_RM,
  XS_SET_PERMS,
  XS_SET_TARGET,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_UNWATCH,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
  emitXsMessage,
  fromLatin1,
} from "./wire.ts";

function setup(quotas = {}) {
  const server = createXenstoreServer({ quotas });
  const dom0 = createRawPeer(server, 0);
  return { server, dom0 };
}

function write(peer: ReturnType<typeof createRawPeer>, path: string, value: string, tx = 0): string {
  return peer.call(XS_WRITE, fromLatin1(`${path}\0${value}`), tx);
}

/** dom0 prepares /local/domain/<d> owned by d, as a toolstack does. */
function home(dom0: ReturnType<typeof createRawPeer>, d: number): void {
  expect(dom0.call(XS_MKDIR, [`/local/domain/${d}`])).toBe("OK");
  expect(dom0.call(XS_SET_PERMS, [`/local/domain/${d}`, `n${d}`])).toBe("OK");
}

describe("xenstore tree operations", () => {
  it("write creates missing parents, read returns the raw value without NUL", () => {
    const { dom0 } = setup();
    expect(write(dom0, "/a/b/c", "hello")).toBe("OK");
    const r = dom0.request(XS_READ, ["/a/b/c"]);
    expect(r.type).toBe(XS_READ);
    expect([...r.payload]).toEqual([...fromLatin1("hello")]);
    expect(dom0.request(XS_READ, ["/a/b"]).payload.length).toBe(0);
    expect(dom0.request(XS_DIRECTORY, ["/a"]).text).toBe("b\0");
  });

  it("directory lists children in creation order, and an empty directory has a zero-length payload", () => {
    const { dom0 } = setup();
    for (const n of ["z", "a", "m"]) write(dom0, `/d/${n}`, "1");
    expect(dom0.request(XS_DIRECTORY, ["/d"]).text).toBe("z\0a\0m\0");
    expect(dom0.request(XS_DIRECTORY, ["/d/z"]).payload.length).toBe(0);
  });

  it("replies echo req_id and tx_id", () => {
    const { dom0 } = setup();
    const tx = Number(dom0.call(XS_TRANSACTION_START, [""]));
    const r = dom0.request(XS_WRITE, fromLatin1("/x\0v"), tx, 0xdeadbeef);
    expect(r).toMatchObject({ type: XS_WRITE, reqId: 0xdeadbeef, txId: tx, text: "OK\0" });
    const e = dom0.request(XS_READ, ["/nope"], 0, 42);
    expect(e).toMatchObject({ type: XS_ERROR, reqId: 42, txId: 0, text: "ENOENT\0" });
  });

  it("rm removes a subtree; rm of a missing node is OK if its parent exists, ENOENT otherwise; rm / is EINVAL", () => {
    const { dom0 } = setup();
    write(dom0, "/a/b/c", "1");
    expect(dom0.call(XS_RM, ["/a/b"])).toBe("OK");
    expect(dom0.call(XS_READ, ["/a/b/c"])).toBe("ENOENT");
    expect(dom0.request(XS_DIRECTORY, ["/a"]).payload.length).toBe(0);
    expect(dom0.call(XS_RM, ["/a/zz"])).toBe("OK");
    expect(dom0.call(XS_RM, ["/q/zz"])).toBe("ENOENT");
    expect(dom0.call(XS_RM, ["/"])).toBe("EINVAL");
  });

  it("mkdir of an existing node keeps its value", () => {
    const { dom0 } = setup();
    write(dom0, "/k", "v");
    expect(dom0.call(XS_MKDIR, ["/k"])).toBe("OK");
    expect(dom0.request(XS_READ, ["/k"]).text).toBe("v");
  });

  it("relative paths resolve against /local/domain/<domid>", () => {
    const { server, dom0 } = setup();
    home(dom0, 3);
    const d3 = createRawPeer(server, 3);
    expect(write(d3, "device/vif/0/state", "1")).toBe("OK");
    expect(dom0.request(XS_READ, ["/local/domain/3/device/vif/0/state"]).text).toBe("1");
    expect(d3.call(XS_GET_DOMAIN_PATH, ["3"])).toBe("/local/domain/3");
  });

  it("invalid paths and malformed payloads are EINVAL; a missing single argument is ENOENT or ENOMEM as in 4.17", () => {
    const { dom0 } = setup();
    for (const p of ["", "/a//b", "/a/", "/a b", "/é", "@foo/x"]) expect(dom0.call(XS_READ, [p])).toBe("EINVAL");
    expect(dom0.call(XS_READ, ["/" + "a".repeat(3072)])).toBe("EINVAL");
    write(dom0, "/a", "exists");
    expect(dom0.call(XS_READ, fromLatin1("/a"))).toBe("ENOENT");
    expect(dom0.call(XS_READ, ["/a", "/b"])).toBe("ENOENT");
    expect(dom0.call(XS_GET_PERMS, fromLatin1("/a"))).toBe("ENOENT");
    expect(dom0.call(XS_MKDIR, fromLatin1("/a"))).toBe("ENOMEM");
    expect(dom0.call(XS_RM, ["/a", "/b"])).toBe("ENOMEM");
    expect(dom0.call(XS_WRITE, fromLatin1("/novalue"))).toBe("EINVAL");
    expect(dom0.call(XS_SET_PERMS, ["/a"])).toBe("EINVAL");
    expect(dom0.call(XS_SET_PERMS, ["/", "x0"])).toBe("EINVAL");
    expect(dom0.call(XS_TRANSACTION_END, ["T"])).toBe("ENOENT");
  });

  it("unknown message types and client-only types are ENOSYS, and the connection keeps serving", () => {
    const { dom0 } = setup();
    for (const t of [20, 23, 99, XS_WATCH_EVENT, XS_ERROR]) expect(dom0.call(t, ["/"])).toBe("ENOSYS");
    expect(write(dom0, "/still", "alive")).toBe("OK");
  });

  it("a reply longer than 4096 bytes becomes E2BIG, and DIRECTORY_PART pages through it", () => {
    const { dom0 } = setup();
    const names: string[] = [];
    for (let i = 0; i < 300; i++) names.push(`child-number-${String(i).padStart(4, "0")}`);
    for (const n of names) expect(dom0.call(XS_MKDIR, [`/big/${n}`])).toBe("OK");
    expect(dom0.call(XS_DIRECTORY, ["/big"])).toBe("E2BIG");
    const got: string[] = [];
    let off = 0;
    let gen: string | undefined;
    for (let rounds = 0; rounds < 10; rounds++) {
      const r = dom0.request(XS_DIRECTORY_PART, ["/big", String(off)]);
      expect(r.type).toBe(XS_DIRECTORY_PART);
      expect(r.payload.length).toBeLessThanOrEqual(4096);
      const parts = r.text.split("\0");
      const g = parts.shift()!;
      gen ??= g;
      expect(g).toBe(gen);
      expect(g).toMatch(/^[0-9a-f]+$/);
      const last = r.text.endsWith("\0\0");
      const chunk = parts.slice(0, last ? -2 : -1);
      got.push(...chunk);
      off += chunk.reduce((n, s) => n + s.length + 1, 0);
      if (last) break;
    }
    expect(got).toEqual(names);
    expect(dom0.request(XS_DIRECTORY_PART, ["/big", "999999"]).text).toBe(`${gen}\0\0`);
    dom0.call(XS_MKDIR, ["/big/one-more"]);
    expect(dom0.request(XS_DIRECTORY_PART, ["/big", "0"]).text.split("\0")[0]).not.toBe(gen);
    expect(dom0.call(XS_DIRECTORY_PART, ["/big"])).toBe("EINVAL");
    // The offset goes through atoi(): "x" is 0.
    expect(dom0.request(XS_DIRECTORY_PART, ["/big", "x"]).text).toBe(dom0.request(XS_DIRECTORY_PART, ["/big", "0"]).text);
  });

  it("DIRECTORY_PART of a small directory returns generation, all names and the terminating empty name", () => {
    const { dom0 } = setup();
    write(dom0, "/s/a", "");
    write(dom0, "/s/bb", "");
    const r = dom0.request(XS_DIRECTORY_PART, ["/s", "0"]);
    expect(r.text).toMatch(/^[0-9a-f]+\0a\0bb\0\0$/);
    expect(dom0.request(XS_DIRECTORY_PART, ["/s", "2"]).text).toMatch(/^[0-9a-f]+\0bb\0\0$/);
  });
});

describe("xenstore permissions", () => {
  it("GET_PERMS returns owner first (its letter the default for others); new nodes inherit with the creator as owner", () => {
    const { server, dom0 } = setup();
    home(dom0, 5);
    expect(dom0.call(XS_SET_PERMS, ["/local/domain/5", "n5", "r7"])).toBe("OK");
    const d5 = createRawPeer(server, 5);
    write(d5, "data/x", "1");
    expect(dom0.request(XS_GET_PERMS, ["/local/domain/5/data/x"]).text).toBe("n5\0r7\0");
    write(dom0, "/local/domain/5/byzero", "1");
    expect(dom0.request(XS_GET_PERMS, ["/local/domain/5/byzero"]).text).toBe("n5\0r7\0");
  });

  it("an unprivileged domain is denied what the permissions deny; dom0 bypasses them", () => {
    const { server, dom0 } = setup();
    write(dom0, "/secret/key", "v");
    const d1 = createRawPeer(server, 1);
    expect(d1.call(XS_READ, ["/secret/key"])).toBe("EACCES");
    expect(write(d1, "/secret/key", "x")).toBe("EACCES");
    expect(write(d1, "/secret/new", "x")).toBe("EACCES");
    expect(d1.call(XS_DIRECTORY, ["/secret"])).toBe("EACCES");
    expect(d1.call(XS_RM, ["/secret/key"])).toBe("EACCES");
    expect(d1.call(XS_READ, ["/secret/missing"])).toBe("EACCES");
    expect(dom0.call(XS_SET_PERMS, ["/secret/key", "n0", "r1"])).toBe("OK");
    expect(d1.request(XS_READ, ["/secret/key"]).text).toBe("v");
    expect(write(d1, "/secret/key", "x")).toBe("EACCES");
    expect(dom0.call(XS_SET_PERMS, ["/secret/key", "n0", "b1"])).toBe("OK");
    expect(write(d1, "/secret/key", "x")).toBe("OK");
    expect(dom0.call(XS_SET_PERMS, ["/secret/key", "r0"])).toBe("OK");
    expect(d1.call(XS_READ, ["/secret/key"])).toBe("x");
    expect(dom0.request(XS_READ, ["/secret/key"]).text).toBe("x");
  });

  it("a missing node under a readable parent is ENOENT, under an unreadable one EACCES", () => {
    const { server, dom0 } = setup();
    write(dom0, "/pub/x", "1");
    dom0.call(XS_SET_PERMS, ["/pub", "r0"]);
    const d1 = createRawPeer(server, 1);
    expect(d1.call(XS_READ, ["/pub/nothing"])).toBe("ENOENT");
    expect(d1.call(XS_READ, ["/pub/x"])).toBe("EACCES");
  });

  it("only the owner may set permissions, and an unprivileged owner may not give the node away", () => {
    const { server, dom0 } = setup();
    home(dom0, 2);
    home(dom0, 3);
    const d2 = createRawPeer(server, 2);
    const d3 = createRawPeer(server, 3);
    write(d2, "k", "v");
    expect(d2.call(XS_SET_PERMS, ["k", "n2", "b3"])).toBe("OK");
    expect(write(d3, "/local/domain/2/k", "w")).toBe("OK");
    expect(d3.call(XS_SET_PERMS, ["/local/domain/2/k", "b3"])).toBe("EACCES");
    expect(d2.call(XS_SET_PERMS, ["k", "n3"])).toBe("EPERM");
  });

  it("SET_TARGET lets a domain act with its target's rights", () => {
    const { server, dom0 } = setup();
    home(dom0, 4);
    write(dom0, "/local/domain/4/k", "v");
    const d9 = createRawPeer(server, 9);
    expect(d9.call(XS_READ, ["/local/domain/4/k"])).toBe("EACCES");
    expect(dom0.call(XS_SET_TARGET, ["9", "4"])).toBe("ENOENT");
    server.introduceDomain(4);
    server.introduceDomain(9);
    expect(d9.call(XS_SET_TARGET, ["9", "4"])).toBe("EACCES");
    expect(dom0.call(XS_SET_TARGET, ["9", "4"])).toBe("OK");
    expect(d9.call(XS_READ, ["/local/domain/4/k"])).toBe("v");
  });
});

describe("xenstore watches", () => {
  it("a WATCH is acknowledged and followed at once by one event for the watched path", () => {
    const { dom0 } = setup();
    dom0.take();
    dom0.request(XS_WATCH, ["/w", "tok"]);
    const msgs = dom0.take();
    expect(msgs.map((m) => [m.type, m.reqId, m.txId, m.text])).toEqual([
      [XS_WATCH, 7, 0, "OK\0"],
      [XS_WATCH_EVENT, 0, 0, "/w\0tok\0"],
    ]);
  });

  it("a watch fires for changes to its node and anything below, not for siblings or parents", () => {
    const { dom0 } = setup();
    dom0.request(XS_WATCH, ["/w", "t"]);
    dom0.take();
    write(dom0, "/w/a/b", "1");
    write(dom0, "/wx", "1");
    write(dom0, "/w", "2");
    write(dom0, "/other", "1");
    const ev = dom0
      .take()
      .filter((m) => m.type === XS_WATCH_EVENT)
      .map((m) => m.text);
    expect(ev).toEqual(["/w/a/b\0t\0", "/w\0t\0"]);
  });

  it("rm fires for the removed node (ancestor watches) and exactly for each watched node below it", () => {
    const { dom0 } = setup();
    write(dom0, "/r/a/b", "1");
    write(dom0, "/r/c", "1");
    dom0.request(XS_WATCH, ["/r", "top"]);
    dom0.request(XS_WATCH, ["/r/a/b", "deep"]);
    dom0.request(XS_WATCH, ["/r/c", "sib"]);
    dom0.take();
    dom0.call(XS_RM, ["/r/a"]);
    const ev = dom0
      .take()
      .filter((m) => m.type === XS_WATCH_EVENT)
      .map((m) => m.text);
    expect(ev).toEqual(["/r/a/b\0deep\0", "/r/a\0top\0"]);
  });

  it("relative watches report relative paths; tokens distinguish watches on one path", () => {
    const { server, dom0 } = setup();
    home(dom0, 6);
    const d6 = createRawPeer(server, 6);
    d6.request(XS_WATCH, ["device", "A"]);
    d6.request(XS_WATCH, ["device", "B"]);
    expect(d6.call(XS_WATCH, ["device", "B"])).toBe("EEXIST");
    d6.take();
    write(dom0, "/local/domain/6/device/vif/0", "x");
    const ev = d6
      .take()
      .filter((m) => m.type === XS_WATCH_EVENT)
      .map((m) => m.text);
    expect(ev).toEqual(["device/vif/0\0A\0", "device/vif/0\0B\0"]);
    expect(d6.call(XS_UNWATCH, ["device", "A"])).toBe("OK");
    expect(d6.call(XS_UNWATCH, ["device", "A"])).toBe("ENOENT");
    write(dom0, "/local/domain/6/device", "y");
    expect(
      d6
        .take()
        .filter((m) => m.type === XS_WATCH_EVENT)
        .map((m) => m.text),
    ).toEqual(["device\0B\0"]);
  });

  it("events are withheld from a domain that cannot read the changed node", () => {
    const { server, dom0 } = setup();
    write(dom0, "/hidden/x", "1");
    const d1 = createRawPeer(server, 1);
    d1.request(XS_WATCH, ["/hidden", "t"]);
    d1.take();
    write(dom0, "/hidden/x", "2");
    expect(d1.take()).toEqual([]);
    dom0.call(XS_SET_PERMS, ["/hidden/x", "n0", "r1"]);
    write(dom0, "/hidden/x", "3");
    expect(d1.take().map((m) => m.text)).toEqual(["/hidden/x\0t\0", "/hidden/x\0t\0"]);
  });

  it("@introduceDomain and @releaseDomain fire for privileged watchers; INTRODUCE/RELEASE are dom0-only", () => {
    const { server, dom0 } = setup();
    dom0.request(XS_WATCH, ["@introduceDomain", "i"]);
    dom0.request(XS_WATCH, ["@releaseDomain", "r"]);
    const d1 = createRawPeer(server, 1);
    d1.request(XS_WATCH, ["@introduceDomain", "i"]);
    dom0.take();
    d1.take();
    expect(d1.call(XS_INTRODUCE, ["8", "1234", "5"])).toBe("EACCES");
    expect(dom0.call(XS_IS_DOMAIN_INTRODUCED, ["8"])).toBe("F");
    expect(dom0.call(XS_INTRODUCE, ["8", "1234", "5"])).toBe("OK");
    expect(dom0.call(XS_IS_DOMAIN_INTRODUCED, ["8"])).toBe("T");
    expect(dom0.call(XS_RESUME, ["8"])).toBe("OK");
    // The gfn is ignored; re-introducing an introduced domain is OK (its connection is reset).
    expect(dom0.call(XS_INTRODUCE, ["8", "x", "5"])).toBe("OK");
    const d8 = createRawPeer(server, 8);
    expect(d1.call(XS_RELEASE, ["8"])).toBe("EACCES");
    expect(dom0.call(XS_RELEASE, ["8"])).toBe("OK");
    expect(d8.closedWith).toBe("released");
    expect(dom0.call(XS_RELEASE, ["8"])).toBe("ENOENT");
    expect(dom0.call(XS_RESUME, ["8"])).toBe("ENOENT");
    const ev = dom0
      .take()
      .filter((m) => m.type === XS_WATCH_EVENT)
      .map((m) => m.text);
    expect(ev).toEqual(["@introduceDomain\0i\0", "@releaseDomain\0r\0"]);
    expect(d1.take().filter((m) => m.type === XS_WATCH_EVENT)).toEqual([]);
  });

  it("RESET_WATCHES drops every watch of the connection", () => {
    const { server, dom0 } = setup();
    dom0.request(XS_WATCH, ["/a", "1"]);
    dom0.request(XS_WATCH, ["/b", "2"]);
    expect(dom0.call(XS_RESET_WATCHES, [""])).toBe("OK");
    dom0.take();
    write(dom0, "/a", "x");
    expect(dom0.take().filter((m) => m.type === XS_WATCH_EVENT)).toEqual([]);
    expect(server.stats().watches).toBe(0);
  });
});

describe("xenstore transactions", () => {
  it("changes inside a transaction are private until commit, and watches fire at commit", () => {
    const { server, dom0 } = setup();
    const other = createRawPeer(server, 0);
    other.request(XS_WATCH, ["/t", "w"]);
    other.take();
    const tx = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(tx).toBeGreaterThan(0);
    expect(write(dom0, "/t/k", "v", tx)).toBe("OK");
    expect(dom0.request(XS_READ, ["/t/k"], tx).text).toBe("v");
    expect(other.call(XS_READ, ["/t/k"])).toBe("ENOENT");
    expect(other.events.length).toBe(1);
    expect(dom0.call(XS_TRANSACTION_END, ["T"], tx)).toBe("OK");
    expect(other.request(XS_READ, ["/t/k"]).text).toBe("v");
    expect(other.events.slice(1).map((m) => m.text)).toEqual(["/t/k\0w\0"]);
    expect(dom0.call(XS_READ, ["/t/k"], tx)).toBe("ENOENT");
  });

  it("commit fails with EAGAIN when a node the transaction read was changed meanwhile", () => {
    const { dom0 } = setup();
    write(dom0, "/c/state", "1");
    const tx = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(dom0.request(XS_READ, ["/c/state"], tx).text).toBe("1");
    write(dom0, "/c/state", "2");
    expect(write(dom0, "/c/other", "x", tx)).toBe("OK");
    expect(dom0.call(XS_TRANSACTION_END, ["T"], tx)).toBe("EAGAIN");
    expect(dom0.call(XS_READ, ["/c/other"])).toBe("ENOENT");
  });

  it("two transactions writing the same node: the first commit wins, the second gets EAGAIN", () => {
    const { dom0 } = setup();
    const t1 = Number(dom0.call(XS_TRANSACTION_START, [""]));
    const t2 = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(t1).not.toBe(t2);
    write(dom0, "/same", "1", t1);
    write(dom0, "/same", "2", t2);
    expect(dom0.call(XS_TRANSACTION_END, ["T"], t1)).toBe("OK");
    expect(dom0.call(XS_TRANSACTION_END, ["T"], t2)).toBe("EAGAIN");
    expect(dom0.request(XS_READ, ["/same"]).text).toBe("1");
  });

  it("a transaction that read a node someone created meanwhile conflicts; disjoint transactions both commit", () => {
    const { dom0 } = setup();
    write(dom0, "/p", "");
    const t1 = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(dom0.call(XS_READ, ["/p/n"], t1)).toBe("ENOENT");
    write(dom0, "/p/n", "1");
    expect(dom0.call(XS_TRANSACTION_END, ["T"], t1)).toBe("EAGAIN");
    write(dom0, "/q1", "");
    write(dom0, "/q2", "");
    const a = Number(dom0.call(XS_TRANSACTION_START, [""]));
    const b = Number(dom0.call(XS_TRANSACTION_START, [""]));
    write(dom0, "/q1", "a", a);
    write(dom0, "/q2", "b", b);
    expect(dom0.call(XS_TRANSACTION_END, ["T"], a)).toBe("OK");
    expect(dom0.call(XS_TRANSACTION_END, ["T"], b)).toBe("OK");
  });

  it("abort discards, unknown ids are ENOENT, nesting is EBUSY, a bad end argument is EINVAL", () => {
    const { dom0 } = setup();
    const tx = Number(dom0.call(XS_TRANSACTION_START, [""]));
    write(dom0, "/gone", "x", tx);
    expect(dom0.call(XS_TRANSACTION_START, [""], tx)).toBe("EBUSY");
    expect(dom0.call(XS_TRANSACTION_END, ["X"], tx)).toBe("EINVAL");
    expect(dom0.call(XS_TRANSACTION_END, ["F"], tx)).toBe("OK");
    expect(dom0.call(XS_READ, ["/gone"])).toBe("ENOENT");
    expect(dom0.call(XS_READ, ["/"], 999)).toBe("ENOENT");
    expect(dom0.call(XS_TRANSACTION_END, ["T"], tx)).toBe("ENOENT");
  });
});

describe("xenstore quotas", () => {
  it("entries: a domain may own at most maxEntries nodes (ENOSPC), dom0 is exempt", () => {
    const { server, dom0 } = setup({ maxEntries: 3 });
    home(dom0, 1);
    const d1 = createRawPeer(server, 1);
    expect(write(d1, "a", "")).toBe("OK");
    expect(write(d1, "b", "")).toBe("OK");
    expect(write(d1, "c/d", "")).toBe("ENOSPC");
    expect(write(d1, "c", "")).toBe("ENOSPC");
    expect(d1.call(XS_RM, ["a"])).toBe("OK");
    expect(write(d1, "c", "")).toBe("OK");
    for (let i = 0; i < 10; i++) expect(write(dom0, `/many/${i}`, "")).toBe("OK");
  });

  it("node size: a domain may not store a node of maxNodeSize bytes or more, header, permissions and child names included", () => {
    const { server, dom0 } = setup();
    home(dom0, 1); // perms n1: every node the domain creates below carries one permission entry
    const d1 = createRawPeer(server, 1);
    // 24-byte record header + 8 per permission + value: 24 + 8 + 2015 = 2047 < 2048.
    expect(write(d1, "v", "x".repeat(2015))).toBe("OK");
    expect(write(d1, "v", "x".repeat(2016))).toBe("ENOSPC");
    expect(d1.call(XS_SET_PERMS, ["v", "n1", "r0"])).toBe("ENOSPC");
    // Child names count against the parent: 24 + 8 + 2000 + "c\0" = 2034, + "d\0" ... up to 2048.
    expect(write(d1, "p", "x".repeat(2000))).toBe("OK");
    for (let i = 0; i < 7; i++) expect(write(d1, `p/${i}`, "")).toBe("OK");
    expect(write(d1, "p/7", "")).toBe("ENOSPC");
    expect(dom0.call(XS_READ, ["/local/domain/1/p/7"])).toBe("ENOENT");
    expect(write(dom0, "/v", "x".repeat(4000))).toBe("OK");
    expect(write(dom0, "/local/domain/1/big", "x".repeat(4000))).toBe("OK");
  });

  it("a node-size failure inside a transaction makes its commit fail with ENOMEM, and nothing of it is applied", () => {
    const { server, dom0 } = setup();
    home(dom0, 1);
    const d1 = createRawPeer(server, 1);
    const tx = Number(d1.call(XS_TRANSACTION_START, [""]));
    expect(write(d1, "big", "x".repeat(2100), tx)).toBe("ENOSPC");
    expect(write(d1, "ok", "small", tx)).toBe("OK");
    expect(d1.call(XS_TRANSACTION_END, ["T"], tx)).toBe("ENOMEM");
    expect(d1.call(XS_READ, ["ok"])).toBe("ENOENT");
    // A permission failure does not poison the transaction.
    const t2 = Number(d1.call(XS_TRANSACTION_START, [""]));
    expect(write(d1, "/outside", "x", t2)).toBe("EACCES");
    expect(write(d1, "ok", "small", t2)).toBe("OK");
    expect(d1.call(XS_TRANSACTION_END, ["T"], t2)).toBe("OK");
    expect(d1.call(XS_READ, ["ok"])).toBe("small");
  });

  it("node count: at commit every unprivileged owner whose count changed must stay below maxEntries", () => {
    const { server, dom0 } = setup({ maxEntries: 4 });
    home(dom0, 1); // the home node counts: 1
    const d1 = createRawPeer(server, 1);
    expect(write(d1, "a", "")).toBe("OK");
    expect(write(d1, "b", "")).toBe("OK");
    const tx = Number(d1.call(XS_TRANSACTION_START, [""]));
    expect(write(d1, "c", "", tx)).toBe("OK");
    expect(d1.call(XS_TRANSACTION_END, ["T"], tx)).toBe("ENOSPC");
    expect(write(d1, "c", "")).toBe("OK");
    // In a transaction, deletions free nothing before commit.
    const t2 = Number(d1.call(XS_TRANSACTION_START, [""]));
    expect(d1.call(XS_RM, ["a"], t2)).toBe("OK");
    expect(write(d1, "d", "", t2)).toBe("ENOSPC");
    expect(d1.call(XS_TRANSACTION_END, ["T"], t2)).toBe("OK");
    expect(d1.call(XS_READ, ["a"])).toBe("ENOENT");
  });

  it("watches: as 4.17, a domain may hold maxWatches + 1 watches, then gets E2BIG", () => {
    const { server } = setup({ maxWatches: 2 });
    const d1 = createRawPeer(server, 1);
    expect(d1.call(XS_WATCH, ["/a", "1"])).toBe("OK");
    expect(d1.call(XS_WATCH, ["/a", "2"])).toBe("OK");
    expect(d1.call(XS_WATCH, ["/a", "3"])).toBe("OK");
    expect(d1.call(XS_WATCH, ["/a", "4"])).toBe("E2BIG");
    expect(d1.call(XS_UNWATCH, ["/a", "1"])).toBe("OK");
    expect(d1.call(XS_WATCH, ["/a", "4"])).toBe("OK");
  });

  it("transactions: as 4.17, a domain may hold maxTransactions + 1 open, then gets ENOSPC", () => {
    const { server, dom0 } = setup({ maxTransactions: 2 });
    const d1 = createRawPeer(server, 1);
    const t1 = Number(d1.call(XS_TRANSACTION_START, [""]));
    expect(Number(d1.call(XS_TRANSACTION_START, [""]))).toBeGreaterThan(0);
    expect(Number(d1.call(XS_TRANSACTION_START, [""]))).toBeGreaterThan(0);
    expect(d1.call(XS_TRANSACTION_START, [""])).toBe("ENOSPC");
    expect(d1.call(XS_TRANSACTION_END, ["F"], t1)).toBe("OK");
    expect(Number(d1.call(XS_TRANSACTION_START, [""]))).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect(Number(dom0.call(XS_TRANSACTION_START, [""]))).toBeGreaterThan(0);
  });

  it("permissions: a domain may set at most maxPermsPerNode entries (ENOSPC)", () => {
    const { server, dom0 } = setup({ maxPermsPerNode: 2 });
    home(dom0, 1);
    const d1 = createRawPeer(server, 1);
    write(d1, "k", "");
    expect(d1.call(XS_SET_PERMS, ["k", "n1", "r2"])).toBe("OK");
    expect(d1.call(XS_SET_PERMS, ["k", "n1", "r2", "r3"])).toBe("ENOSPC");
    expect(dom0.call(XS_SET_PERMS, ["/local/domain/1/k", "n1", "r2", "r3", "r4"])).toBe("OK");
  });
});

describe("xenstore control messages", () => {
  it("DEBUG is dom0-only and answers print/check", () => {
    const { server, dom0 } = setup();
    expect(dom0.call(XS_DEBUG, ["print", "hello"])).toBe("OK");
    expect(dom0.call(XS_DEBUG, ["bogus"])).toBe("EINVAL");
    expect(createRawPeer(server, 1).call(XS_DEBUG, ["print", "x"])).toBe("EACCES");
  });

  it("GET_DOMAIN_PATH reads its domid with atoi, as 4.17 does", () => {
    const { dom0 } = setup();
    expect(dom0.call(XS_GET_DOMAIN_PATH, ["0"])).toBe("/local/domain/0");
    expect(dom0.call(XS_GET_DOMAIN_PATH, ["x"])).toBe("/local/domain/0");
    expect(dom0.call(XS_GET_DOMAIN_PATH, ["12abc"])).toBe("/local/domain/12");
    expect(dom0.call(XS_GET_DOMAIN_PATH, ["32752"])).toBe("/local/domain/32752");
    expect(dom0.call(XS_GET_DOMAIN_PATH, fromLatin1(""))).toBe("EINVAL");
  });

  it("IS_DOMAIN_INTRODUCED is refused to a domU (EACCES); dom0 and DOMID_SELF are always introduced", () => {
    const { server, dom0 } = setup();
    expect(createRawPeer(server, 3).call(XS_IS_DOMAIN_INTRODUCED, ["3"])).toBe("EACCES");
    expect(dom0.call(XS_IS_DOMAIN_INTRODUCED, ["0"])).toBe("T");
    expect(dom0.call(XS_IS_DOMAIN_INTRODUCED, ["32752"])).toBe("T");
    expect(dom0.call(XS_IS_DOMAIN_INTRODUCED, ["3"])).toBe("F");
  });

  it("INTRODUCE refuses event channel 0 (EINVAL) and re-introducing dom0 is a no-op", () => {
    const { dom0 } = setup();
    expect(dom0.call(XS_WATCH, ["@introduceDomain", "i"])).toBe("OK");
    dom0.events.length = 0;
    expect(dom0.call(XS_INTRODUCE, ["5", "0", "0"])).toBe("EINVAL");
    expect(dom0.call(XS_INTRODUCE, ["5", "0", "x"])).toBe("EINVAL");
    expect(dom0.call(XS_IS_DOMAIN_INTRODUCED, ["5"])).toBe("F");
    expect(dom0.call(XS_INTRODUCE, ["0", "0", "1"])).toBe("OK");
    expect(dom0.events).toEqual([]);
    expect(dom0.call(XS_INTRODUCE, ["5", "0", "1"])).toBe("OK");
    expect(dom0.events.map((e) => e.strings)).toEqual([["@introduceDomain", "i"]]);
  });

  it("/tool/xenstored exists from the start, empty and owned by dom0", () => {
    const { server, dom0 } = setup();
    expect(dom0.call(XS_READ, ["/tool/xenstored"])).toBe("");
    expect(dom0.call(XS_GET_PERMS, ["/tool/xenstored"])).toBe("n0");
    expect(dom0.request(XS_DIRECTORY, ["/"]).text).toBe("tool\0");
    expect(createRawPeer(server, 1).call(XS_READ, ["/tool/xenstored"])).toBe("EACCES");
  });

  it("closing a connection drops its watches and transactions", () => {
    const { server, dom0 } = setup();
    const p = createRawPeer(server, 0);
    p.request(XS_WATCH, ["/a", "t"]);
    p.call(XS_TRANSACTION_START, [""]);
    expect(server.stats()).toMatchObject({ watches: 1, transactions: 1 });
    p.conn.close();
    expect(server.stats()).toMatchObject({ watches: 0, transactions: 0 });
    expect(write(dom0, "/a", "1")).toBe("OK");
  });

  it("watch events for a connection whose output backlog exceeds maxQueuedOutput are dropped and counted; replies still flow", () => {
    const server = createXenstoreServer({ maxQueuedOutput: 100 });
    const dom0 = createRawPeer(server, 0);
    let backlog = 0;
    const got: number[] = [];
    const slow = server.connect(0, {
      send: (b) => {
        backlog += b.length;
        got.push(b[0]!);
      },
      queued: () => backlog,
      close: () => {},
    });
    slow.receive(new Uint8Array([4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0x2f, 0x78, 0, 0x74, 0]));
    expect(got).toEqual([XS_WATCH, XS_WATCH_EVENT]);
    for (let i = 0; i < 10; i++) write(dom0, `/x/${i}`, "1");
    expect(got.filter((t) => t === XS_WATCH_EVENT).length).toBeLessThan(11);
    expect(server.stats().droppedEvents).toBe(11 - got.filter((t) => t === XS_WATCH_EVENT).length);
    backlog = 0;
    write(dom0, "/x/late", "1");
    expect(got[got.length - 1]).toBe(XS_WATCH_EVENT);
  });
});

describe("xenstored 4.17 fidelity (each rule checked against Debian's daemon by harness/xenstore/real)", () => {
  it("a transaction's reads are repeatable: it keeps seeing the value it first read after an outside write", () => {
    const { server, dom0 } = setup();
    const other = createRawPeer(server, 0);
    write(dom0, "/x", "1");
    const tx = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(dom0.call(XS_READ, ["/x"], tx)).toBe("1");
    expect(write(other, "/x", "2")).toBe("OK");
    expect(dom0.call(XS_READ, ["/x"], tx)).toBe("1");
    expect(dom0.call(XS_READ, ["/x"])).toBe("2");
    expect(dom0.call(XS_TRANSACTION_END, ["T"], tx)).toBe("EAGAIN");
  });

  it("a transaction's directory listing is repeatable too, and a node it saw missing stays missing", () => {
    const { server, dom0 } = setup();
    const other = createRawPeer(server, 0);
    write(dom0, "/d/a", "");
    const tx = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(dom0.request(XS_DIRECTORY, ["/d"], tx).text).toBe("a\0");
    expect(dom0.call(XS_READ, ["/d/b"], tx)).toBe("ENOENT");
    write(other, "/d/b", "new");
    expect(dom0.request(XS_DIRECTORY, ["/d"], tx).text).toBe("a\0");
    expect(dom0.call(XS_READ, ["/d/b"], tx)).toBe("ENOENT");
    expect(dom0.call(XS_TRANSACTION_END, ["F"], tx)).toBe("OK");
  });

  it("a released domain's nodes are deleted with their subtrees and watches fire (XSA-322); the RELEASE reply comes first", () => {
    const { server, dom0 } = setup();
    home(dom0, 5);
    expect(dom0.call(XS_INTRODUCE, ["5", "0", "1"])).toBe("OK");
    const d5 = createRawPeer(server, 5);
    expect(write(d5, "data/x", "v")).toBe("OK");
    write(dom0, "/given", "g");
    dom0.call(XS_SET_PERMS, ["/given", "n5"]);
    write(dom0, "/kept", "k");
    dom0.call(XS_SET_PERMS, ["/kept", "n0", "r5"]);
    for (const [p, t] of [
      ["/local/domain/5/data/x", "x"],
      ["/given", "g"],
      ["@releaseDomain", "r"],
    ])
      dom0.call(XS_WATCH, [p!, t!]);
    dom0.take();
    dom0.conn.receive(emitXsMessage(XS_RELEASE, 9, 0, fromLatin1("5\0")));
    expect(dom0.take().map((m) => (m.type === XS_WATCH_EVENT ? m.strings!.join(" ") : m.text))).toEqual([
      "OK\0",
      "/local/domain/5/data/x x",
      "/given g",
      "@releaseDomain r",
    ]);
    expect(d5.closedWith).toBe("released");
    for (const p of ["/local/domain/5", "/local/domain/5/data/x", "/given"]) expect(dom0.call(XS_READ, [p])).toBe("ENOENT");
    expect(dom0.call(XS_READ, ["/kept"])).toBe("k");
    expect(dom0.call(XS_READ, ["/local/domain"])).toBe("");
  });

  it("keepOrphans keeps a released domain's nodes (xenstored --keep-orphans)", () => {
    const server = createXenstoreServer({ keepOrphans: true });
    const dom0 = createRawPeer(server, 0);
    home(dom0, 5);
    server.introduceDomain(5);
    expect(write(createRawPeer(server, 5), "x", "v")).toBe("OK");
    server.releaseDomain(5);
    expect(dom0.call(XS_READ, ["/local/domain/5/x"])).toBe("v");
  });

  it("watches on @releaseDomain/<domid> are accepted (and fire only for events at or below that name)", () => {
    const { server, dom0 } = setup();
    expect(dom0.call(XS_WATCH, ["@releaseDomain/5", "r5"])).toBe("OK");
    expect(
      dom0
        .take()
        .filter((m) => m.type === XS_WATCH_EVENT)
        .map((m) => m.strings),
    ).toEqual([["@releaseDomain/5", "r5"]]);
    server.introduceDomain(5);
    server.releaseDomain(5);
    expect(dom0.take()).toEqual([]);
    expect(dom0.call(XS_WATCH, ["@releaseDomain//5", "bad"])).toBe("EINVAL");
  });

  it("GET_PERMS of an @ name is EINVAL (4.17 only sets them)", () => {
    const { dom0 } = setup();
    expect(dom0.call(XS_SET_PERMS, ["@releaseDomain", "n0", "r5"])).toBe("OK");
    expect(dom0.call(XS_GET_PERMS, ["@releaseDomain"])).toBe("EINVAL");
  });

  it("SET_TARGET accepts dom0 as a target (dom0 is introduced at start)", () => {
    const { server, dom0 } = setup();
    server.introduceDomain(5);
    expect(dom0.call(XS_SET_TARGET, ["5", "0"])).toBe("OK");
    expect(dom0.call(XS_SET_TARGET, ["5", "6"])).toBe("ENOENT");
  });

  it("path length: 2048 characters after /local/domain/<domid>/, or 2048 in all elsewhere (is_valid_nodename)", () => {
    const { dom0 } = setup();
    expect(write(dom0, `/${"t".repeat(2047)}`, "v")).toBe("OK");
    expect(write(dom0, `/${"t".repeat(2048)}`, "v")).toBe("EINVAL");
    expect(write(dom0, `/local/domain/3/${"t".repeat(2048)}`, "v")).toBe("OK");
    expect(write(dom0, `/local/domain/3/${"t".repeat(2049)}`, "v")).toBe("EINVAL");
    expect(write(dom0, `/local/domain/123456/${"t".repeat(2040)}`, "v")).toBe("EINVAL");
  });

  it("permission numbers are read as C strtol(s, &end, 0) into an int", () => {
    const { dom0 } = setup();
    write(dom0, "/p", "v");
    const cases: [string, string][] = [
      ["r0x10", "n0,r16"],
      ["r010", "n0,r8"],
      ["r-1", "n0,r-1"],
      ["r 5", "n0,r5"],
      ["r4294967297", "n0,r1"],
    ];
    for (const [perm, shown] of cases) {
      expect(dom0.call(XS_SET_PERMS, ["/p", "n0", perm])).toBe("OK");
      expect(dom0.call(XS_GET_PERMS, ["/p"])).toBe(shown);
    }
    for (const bad of ["r5x", "r", "r0x", "r08", "R1"]) expect(dom0.call(XS_SET_PERMS, ["/p", "n0", bad])).toBe("EINVAL");
    expect(dom0.call(XS_SET_PERMS, ["/p", "n70000"])).toBe("ENOENT");
    expect(dom0.call(XS_SET_PERMS, ["/p", "n-1"])).toBe("ENOENT");
  });

  it("a commit fires one event per changed node, in the order first changed, and none for a node created and removed in it", () => {
    const { dom0 } = setup();
    expect(dom0.call(XS_WATCH, ["/o", "w"])).toBe("OK");
    const tx = Number(dom0.call(XS_TRANSACTION_START, [""]));
    for (const [p, v] of [
      ["/o/b", "1"],
      ["/o/a", "1"],
      ["/o/b", "2"],
      ["/o/gone", "x"],
    ])
      expect(write(dom0, p!, v!, tx)).toBe("OK");
    expect(dom0.call(XS_RM, ["/o/gone"], tx)).toBe("OK");
    dom0.events.length = 0;
    expect(dom0.call(XS_TRANSACTION_END, ["T"], tx)).toBe("OK");
    expect(dom0.events.map((e) => e.strings![0])).toEqual(["/o/b", "/o/a"]);
  });

  it("a domain's transaction may access maxTransactionNodes distinct nodes; the next is ENOSPC, changes nothing, and fails the commit", () => {
    const server = createXenstoreServer({ quotas: { maxTransactionNodes: 3 } });
    const dom0 = createRawPeer(server, 0);
    home(dom0, 5);
    const d5 = createRawPeer(server, 5);
    for (const n of ["a", "b", "c", "d"]) expect(write(d5, n, "v")).toBe("OK");
    const tx = Number(d5.call(XS_TRANSACTION_START, [""]));
    for (const n of ["a", "b", "c"]) expect(d5.call(XS_READ, [n], tx)).toBe("v");
    expect(d5.call(XS_READ, ["d"], tx)).toBe("ENOSPC");
    expect(write(d5, "new", "x", tx)).toBe("ENOSPC");
    expect(d5.call(XS_READ, ["a"], tx)).toBe("v");
    expect(d5.request(XS_DIRECTORY, ["/local/domain/5"], tx).text).toBe("ENOSPC\0");
    expect(d5.call(XS_TRANSACTION_END, ["T"], tx)).toBe("ENOMEM");
    const t0 = Number(dom0.call(XS_TRANSACTION_START, [""]));
    for (const n of ["a", "b", "c", "d"]) expect(dom0.call(XS_READ, [`/local/domain/5/${n}`], t0)).toBe("v");
    expect(dom0.call(XS_TRANSACTION_END, ["T"], t0)).toBe("OK");
  });

  it("DEBUG log off/on pauses and resumes the request log", () => {
    const records: string[] = [];
    const server = createXenstoreServer({ log: (r) => records.push(r.type) });
    const dom0 = createRawPeer(server, 0);
    expect(dom0.call(XS_DEBUG, ["log", "off"])).toBe("OK");
    dom0.call(XS_READ, ["/tool/xenstored"]);
    expect(dom0.call(XS_DEBUG, ["log", "on"])).toBe("OK");
    dom0.call(XS_READ, ["/tool/xenstored"]);
    expect(dom0.call(XS_DEBUG, ["log", "maybe"])).toBe("EINVAL");
    expect(records).toEqual(["DEBUG", "READ", "DEBUG"]); // log on, the read, log maybe
  });

  it("a change gives a connection one event per distinct (path, token), however many of its watches match", () => {
    const { server, dom0 } = setup();
    const w = createRawPeer(server, 0);
    for (const [p, t] of [
      ["/p", "t1"],
      ["/p/q", "t1"],
      ["/p/q", "t2"],
    ])
      expect(w.call(XS_WATCH, [p!, t!])).toBe("OK");
    w.events.length = 0;
    write(dom0, "/p/q/r", "v");
    expect(w.events.map((e) => e.strings)).toEqual([
      ["/p/q/r", "t1"],
      ["/p/q/r", "t2"],
    ]);
  });

  it("a commit fires in the order the transaction first accessed the nodes", () => {
    const { dom0 } = setup();
    write(dom0, "/o/a", "1");
    write(dom0, "/o/b", "1");
    expect(dom0.call(XS_WATCH, ["/o", "w"])).toBe("OK");
    const tx = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(dom0.call(XS_READ, ["/o/a"], tx)).toBe("1");
    expect(write(dom0, "/o/b", "2", tx)).toBe("OK");
    expect(write(dom0, "/o/a", "2", tx)).toBe("OK");
    dom0.events.length = 0;
    expect(dom0.call(XS_TRANSACTION_END, ["T"], tx)).toBe("OK");
    expect(dom0.events.map((e) => e.strings![0])).toEqual(["/o/a", "/o/b"]);
  });

  it("a node written in a transaction has its own generation, stable for the transaction's DIRECTORY_PART", () => {
    const { server, dom0 } = setup();
    const other = createRawPeer(server, 0);
    const gen = (peer: typeof dom0, p: string, tx = 0) => peer.request(XS_DIRECTORY_PART, [p, "0"], tx).text.split("\0")[0];
    const tx = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(dom0.call(XS_MKDIR, ["/n"], tx)).toBe("OK");
    const g = gen(dom0, "/n", tx);
    write(other, "/o", "v");
    expect(gen(dom0, "/n", tx)).toBe(g);
    expect(gen(other, "/o")).not.toBe(g);
  });

  it("rm inside a transaction whose copies disagree with the store: missing parent EINVAL, unlisted node or missing child EIO", () => {
    const { server, dom0 } = setup();
    const other = createRawPeer(server, 0);
    write(dom0, "/a/b", "v");
    const t1 = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(dom0.call(XS_READ, ["/a/b"], t1)).toBe("v");
    expect(other.call(XS_RM, ["/a"])).toBe("OK");
    expect(dom0.call(XS_RM, ["/a/b"], t1)).toBe("EINVAL");
    write(dom0, "/c", "");
    const t2 = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(dom0.request(XS_DIRECTORY, ["/c"], t2).text).toBe("");
    write(other, "/c/d", "v");
    expect(dom0.call(XS_RM, ["/c/d"], t2)).toBe("EIO");
    const t3 = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(dom0.request(XS_DIRECTORY, ["/c"], t3).text).toBe("d\0");
    expect(other.call(XS_RM, ["/c/d"])).toBe("OK");
    expect(dom0.call(XS_RM, ["/c"], t3)).toBe("EIO");
  });

  it("a removal reaches a domU watcher that can read the removed node's parent, but not when fired at a commit", () => {
    const { server, dom0 } = setup();
    home(dom0, 5);
    const d5 = createRawPeer(server, 5);
    write(dom0, "/local/domain/5/x", "v");
    dom0.call(XS_SET_PERMS, ["/local/domain/5/x", "n0"]);
    expect(d5.call(XS_WATCH, ["x", "t"])).toBe("OK");
    d5.events.length = 0;
    expect(dom0.call(XS_RM, ["/local/domain/5/x"])).toBe("OK");
    expect(d5.events.map((e) => e.strings)).toEqual([["x", "t"]]);
    write(dom0, "/local/domain/5/x", "v");
    dom0.call(XS_SET_PERMS, ["/local/domain/5/x", "n0"]);
    d5.events.length = 0;
    const tx = Number(dom0.call(XS_TRANSACTION_START, [""]));
    expect(dom0.call(XS_RM, ["/local/domain/5/x"], tx)).toBe("OK");
    expect(dom0.call(XS_TRANSACTION_END, ["T"], tx)).toBe("OK");
    expect(d5.events).toEqual([]);
  });
});

describe("commitAs", () => {
  /** Two servers with the same history; domain 5 owns its home, dom0 watches it. */
  const twin = () => {
    const server = createXenstoreServer();
    const dom0 = createRawPeer(server, 0);
    home(dom0, 5);
    write(dom0, "/local/domain/5/keep", "k");
    write(dom0, "/local/domain/5/gone", "g");
    dom0.request(XS_WATCH, ["/local/domain/5", "w"]);
    dom0.take();
    return { server, dom0, guest: createRawPeer(server, 5) };
  };
  const image = (server: ReturnType<typeof createXenstoreServer>, dom0: ReturnType<typeof createRawPeer>): string[] =>
    ["a", "b/c", "keep", "gone"].map((k) => {
      const p = `/local/domain/5/${k}`;
      return `${k}=${server.peek(p) === undefined ? "-" : dom0.call(XS_READ, [p])} ${dom0.call(XS_GET_PERMS, [p])}`;
    });

  it("leaves the tree, permissions and watch events a transaction from that domain's connection leaves", () => {
    const viaWire = twin();
    const tx = viaWire.guest.call(XS_TRANSACTION_START, [""]).replace("\0", "");
    expect(write(viaWire.guest, "a", "1", Number(tx))).toBe("OK");
    expect(write(viaWire.guest, "b/c", "\u00e9", Number(tx))).toBe("OK");
    expect(viaWire.guest.call(XS_RM, ["gone"], Number(tx))).toBe("OK");
    expect(viaWire.guest.call(XS_TRANSACTION_END, ["T"], Number(tx))).toBe("OK");
    const direct = twin();
    expect(direct.server.commitAs(5, [{ path: "a", value: "1" }, { path: "/local/domain/5/b/c", value: fromLatin1("\u00e9") }, { path: "gone" }])).toEqual({
      ok: true,
      value: undefined,
    });
    expect(image(direct.server, direct.dom0)).toEqual(image(viaWire.server, viaWire.dom0));
    expect(direct.dom0.take().map((m) => m.text)).toEqual(viaWire.dom0.take().map((m) => m.text));
    expect(image(direct.server, direct.dom0)).toContain("a=1 n5");
    expect(direct.dom0.events.length).toBeGreaterThan(0);
  });

  it("checks the domain's permissions, and a failing operation leaves nothing behind", () => {
    const { server, dom0 } = twin();
    dom0.take();
    expect(
      server.commitAs(5, [
        { path: "a", value: "1" },
        { path: "/local/domain/0/x", value: "1" },
      ]),
    ).toEqual({ ok: false, error: "EACCES" });
    expect(
      server.commitAs(5, [
        { path: "a", value: "1" },
        { path: "bad//path", value: "1" },
      ]),
    ).toEqual({ ok: false, error: "EINVAL" });
    expect(server.peek("/local/domain/5/a")).toBeUndefined();
    expect(dom0.take()).toEqual([]);
    expect(server.stats().requests).toBe(5);
  });
});

describe("xenstore server reset", () => {
  /** A script touching every kind of server state, then a transcript of what a new dom0 and dom5 connection see. */
  function transcript(server: ReturnType<typeof createXenstoreServer>): string[] {
    const dom0 = createRawPeer(server, 0);
    const dom5 = createRawPeer(server, 5);
    const out = [
      dom0.call(XS_GET_PERMS, ["@introduceDomain"]),
      dom0.call(XS_IS_DOMAIN_INTRODUCED, ["5"]),
      dom0.call(XS_DIRECTORY, ["/"]),
      dom0.call(XS_DIRECTORY_PART, ["/", "0"]),
      dom0.call(XS_READ, ["/tool/xenstored"]),
      dom0.call(XS_TRANSACTION_START, [""]),
      dom0.call(XS_WATCH, ["@introduceDomain", "t"]),
      dom5.call(XS_WATCH, ["@introduceDomain", "t5"]),
      dom0.call(XS_INTRODUCE, ["7", "1", "2"]),
      dom5.call(XS_READ, ["/local/domain/5/x"]),
      dom5.call(XS_WRITE, fromLatin1("/local/domain/5/y\0v")),
      write(dom0, "/a", "1"),
      dom0.call(XS_DIRECTORY_PART, ["/", "0"]),
    ];
    return [...out, ...dom0.events.map((e) => e.text), "dom5:", ...dom5.events.map((e) => e.text), JSON.stringify(server.stats())];
  }

  it("reset() gives back the server as created: a script on a used, reset server answers as on a new one", () => {
    const logA: string[] = [];
    const logB: string[] = [];
    const fresh = createXenstoreServer({ quotas: { maxEntries: 50 }, log: (r) => logA.push(JSON.stringify(r)) });
    const used = createXenstoreServer({ quotas: { maxEntries: 50 }, log: (r) => logB.push(JSON.stringify(r)) });
    const dom0 = createRawPeer(used, 0);
    home(dom0, 5);
    expect(write(dom0, "/local/domain/5/x", "secret")).toBe("OK");
    expect(dom0.call(XS_SET_PERMS, ["@introduceDomain", "n0", "r5"])).toBe("OK");
    expect(dom0.call(XS_INTRODUCE, ["5", "1234", "3"])).toBe("OK");
    expect(dom0.call(XS_SET_TARGET, ["5", "0"])).toBe("OK");
    expect(dom0.call(XS_WATCH, ["/", "w"])).toBe("OK");
    expect(dom0.call(XS_TRANSACTION_START, [""])).toBe("1");
    expect(dom0.call(XS_DEBUG, ["log", "off"])).toBe("OK");
    expect(used.stats().nodes).toBeGreaterThan(4);
    used.reset();
    logB.length = 0;
    // The connection attached before the reset is dropped without a word and answers nothing.
    expect(dom0.closedWith).toBeNull();
    dom0.take();
    dom0.conn.receive(emitXsMessage(XS_READ, 1, 0, fromLatin1("/a\0")));
    expect(dom0.take()).toEqual([]);
    expect(transcript(used)).toEqual(transcript(fresh));
    expect(logB).toEqual(logA);
    expect(logA.length).toBeGreaterThan(8);
  });
});
