#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Self-test of ci/report.py: builds synthetic run directories (the files
ci/vm.sh and ci/guest/run-tests leave) in a temporary directory, runs
report.py on each as a subprocess and compares every verdict line (result
numbers aside) and the summary line with what the rules say.

  python3 ci/test-report.py [-v]     KTAP, one result per case, then
                                     "N passed, N failed, N skipped";
                                     exit 1 on any failure

The splat cases use the real ci/expected-splats; most cases run with an
empty allowed-skips of their own (so entries added to ci/allowed-skips do
not change them), the "real config" case with the real one.  Python 3
stdlib only.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "report.py")

RELEASE = {"stock": "6.1.0-57-amd64", "base": "6.1.192-pinlab-base",
           "patched": "6.1.192-pinlab-patched", "stock612": "6.12.95+deb12-amd64"}
SETUP = "guest boots, mounts ext4+xfs, loads mockdma"

CLEAN_OUT = """TAP version 13
1..2
# [RUN] first ... with memfd
ok 1 first
# [RUN] second ... with tmpfile
ok 2 second
# Totals: pass:2 fail:0 xfail:0 xpass:0 skip:0 error:0
"""
PINS0 = "nr_foll_pin_acquired 1000\nnr_foll_pin_released 1000\nmockdma_pages_pinned 0\n"
PINS = "nr_foll_pin_acquired 1064\nnr_foll_pin_released 1064\nmockdma_pages_pinned 0\n"
OFFLRU = "dma_pin_longterm_pages 0\n"
SYSCTL = ("vm.dirty_background_bytes 0\nvm.dirty_bytes 0\nvm.dirty_ratio 20\n"
          "vm.dirty_background_ratio 10\n/sys/kernel/mm/lru_gen/enabled 0x0000\n"
          "/sys/kernel/mm/transparent_hugepage/enabled madvise\n")

# WARN_ON_ONCE in ext4_dirty_folio() as 6.1 prints it, with timestamps.
WARN_BLOCK = """[  123.456700] ------------[ cut here ]------------
[  123.456701] WARNING: CPU: 1 PID: 345 at fs/ext4/inode.c:3620 ext4_dirty_folio+0x4a/0x50 [ext4]
[  123.456702] Modules linked in: mockdma(OE) xfs ext4 crc16 mbcache jbd2 virtio_blk
[  123.456703] CPU: 1 PID: 345 Comm: buffers_stripped Tainted: G           OE      6.1.0-57-amd64 #1  Debian 6.1.192-3
[  123.456704] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[  123.456705] RIP: 0010:ext4_dirty_folio+0x4a/0x50 [ext4]
[  123.456706] RSP: 0018:ffffb5a4c05f7d58 EFLAGS: 00010246
[  123.456707] Call Trace:
[  123.456708]  <TASK>
[  123.456709]  folio_mark_dirty+0x2b/0x60
[  123.456710]  unpin_user_pages_dirty_lock+0xb5/0x160
[  123.456711]  mockdma_unpin+0x40/0x90 [mockdma]
[  123.456712]  </TASK>
[  123.456713] ---[ end trace 0000000000000000 ]---
"""
EXT4_WARN = ("[  123.500000] EXT4-fs warning (device vda): mpage_prepare_extent_to_map:2581:"
             " page 7 does not have buffers attached\n")
BARE_TRACE = """[  130.000000] Call Trace:
[  130.000001]  <TASK>
[  130.000002]  dump_stack_lvl+0x44/0x5c
[  130.000003]  </TASK>
"""


def strip_ts(text):
    return re.sub(r"(?m)^\[[ 0-9.]+\] ", "", text)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


START_END = "@start-end@"


def program(**kw):
    """A test run's files; a clean one unless overridden (None: no file;
    the default .dmesg holds the START and END markers only)."""
    p = {"out": CLEAN_OUT, "rc": "0", "dmesg": START_END, "pins0": PINS0, "pins": PINS,
         "sysctl0": SYSCTL, "sysctl": SYSCTL, "restore": None}
    p.update(kw)
    return p


def make_run(tmp, case, label="stock", programs=None, release=None, between=None,
             rdma=None, final="", finished=True, console="", uname=True, guest=None,
             mounts=None):
    """One run directory; programs: {id: program()}, in tests.list order;
    guest: guest.mode (ci/vm.sh), mounts: guest.mounts (ci/guest/init)."""
    run = os.path.join(tmp, case, label)
    programs = {"prog": program()} if programs is None else programs
    write(os.path.join(run, "kernel.label"), label + "\n")
    write(os.path.join(run, "tests.list"), "".join(t + "\n" for t in programs))
    if uname:
        write(os.path.join(run, "uname"), (release or RELEASE.get(label, "6.1.0-57-amd64")) + "\n")
    write(os.path.join(run, "proc_version"), "Linux version %s (synthetic) #1 SMP\n"
          % (release or RELEASE.get(label, "?")))
    write(os.path.join(run, "build_id"), "a3e4cd60a8ec14f02aa41b41d5b5846d3d9f1dd8\n")
    write(os.path.join(run, "setup.status"), "ok\n")
    write(os.path.join(run, "setup.dmesg"), "[    3.000000] mockdma: test module\n")
    write(os.path.join(run, "console.log"), console)
    if guest is not None:
        write(os.path.join(run, "guest.mode"), guest + "\n")
    if mounts is not None:
        write(os.path.join(run, "guest.mounts"), mounts)
    log = []
    for tid, p in programs.items():
        log.append(f"# pinlab: kernel log before {tid}\n")
        log.append((between or {}).get(tid, ""))
        base = os.path.join(run, "tests", tid)
        if p["dmesg"] == START_END:
            p = dict(p, dmesg=f"[   10.000000] pinlab: START {tid}\n"
                              f"[   11.000000] pinlab: END {tid}\n")
        for ext, text in p.items():
            if text is None:
                continue
            # The patched kernel has the series' gauge (a case that wants
            # it missing passes its own pins).
            if label == "patched" and ext in ("pins0", "pins") and text in (PINS0, PINS):
                text += OFFLRU
            write(f"{base}.{ext}", text if ext != "rc" else text + "\n")
    write(os.path.join(run, "between.dmesg"), "".join(log))
    if rdma is not None:
        write(os.path.join(run, "rdma.dmesg"), rdma)
    if final is not None:
        write(os.path.join(run, "final.dmesg"),
              final + ("# pinlab: end of the run\n" if finished else ""))
    return run


def head(label):
    return [f"ok {label}: booted kernel matches label", f"ok {label}: {SETUP}"]


def tail(label, between="ok", final="ok", rdma=None):
    lines = [f"{between} {label}: no kernel splat between programs"]
    if rdma:
        lines.append(f"{rdma} {label}: no kernel splat in RDMA setup and teardown")
    return lines + [f"{final} {label}: no kernel splat after the last program"]


def prog(label, tid, leaves=("ok first", "ok second"), wf="ok", rc="ok 0", splat="ok",
         pins="ok", sysctl="ok", skip=None):
    """The verdict lines of one test run: leaves as '<ok|not ok> <leaf>[ # ...]';
    skip: the whole-program SKIP line instead of the well-formed check."""
    name = f"{label}/{tid}"
    lines = []
    for leaf in leaves:
        verdict, _, rest = leaf.partition(" ") if leaf.startswith("ok ") else \
            ("not ok", None, leaf[len("not ok "):])
        lines.append(f"{verdict} {name}/{rest}")
    lines.append(skip.replace("NAME", name) if skip else f"{wf} {name}: KTAP output well-formed")
    verdict, _, status = rc.rpartition(" ")
    lines += [f"{verdict} {name}: exit status {status}",
              f"{splat} {name}: no unexpected kernel splat",
              f"{pins} {name}: pin counters balanced",
              f"{sysctl} {name}: sysctls restored"]
    return lines


def clean(label="stock", tid="prog"):
    return head(label) + prog(label, tid) + tail(label)


def summary(lines, skipped=0):
    failed = sum(1 for line in lines if line.startswith("not ok"))
    return f"{len(lines) - failed - skipped} passed, {failed} failed, {skipped} skipped"


class Case:
    def __init__(self, name, runs, want, skipped=0, skips="", diag=(), args=None, rc=None):
        self.name, self.runs, self.want = name, runs, want
        self.summary = summary(want, skipped)
        self.skips, self.diag, self.args = skips, diag, args
        self.rc = (1 if any(w.startswith("not ok") for w in want) else 0) if rc is None else rc


def cases(tmp):
    c = []
    add = c.append
    add(Case("clean program: all pass", [make_run(tmp, "clean")], clean(),
             diag=["uname -r: 6.1.0-57-amd64",
                   "build id: a3e4cd60a8ec14f02aa41b41d5b5846d3d9f1dd8"]))
    add(Case("clean program on the real ci/ configuration files",
             [make_run(tmp, "realcfg")], clean(), args=[]))
    for label in ("base", "patched"):
        add(Case(f"clean program on {label}", [make_run(tmp, "clean-" + label, label)],
                 clean(label)))

    # 0. The payload guest (PINLAB_GUEST=payload): its root, and no 9p.
    root = "/dev/vdc /host ext4 ro,relatime 0 0\n"
    results = "/dev/vdd /host/mnt/results ext4 rw,sync,dirsync,relatime 0 0\n"
    payload = "ok stock: payload guest, no 9p mount"
    # A kernel that died before init, booted once more by ci/pinlab.sh:
    # the second boot is judged, and the first one's death is a result of
    # its own, passing only where the real ci/allowed-boot-flakes allows it.
    flake = "first boot died before init: allowed by ci/allowed-boot-flakes"
    for name, label, oops, verdict in (
            ("an allowed pre-init death is shown, the second boot judged", "stock612",
             "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI", "ok"),
            ("a pre-init death the file does not allow fails", "stock",
             "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI", "not ok"),
            ("a pre-init death of another kind fails", "stock612",
             "Oops: general protection fault, probably for non-canonical address", "not ok")):
        run = make_run(tmp, "boot1-" + re.sub(r"\W+", "-", name), label)
        write(os.path.join(run, "console.boot1.log"),
              f"[    1.534499] {oops}\n"
              "[    1.537205] Kernel panic - not syncing: Fatal exception in interrupt\n")
        add(Case(name, [run], head(label)[:1] + [f"{verdict} {label}: {flake}"] +
                 clean(label)[1:],
                 diag=[f"console.boot1.log: [    1.534499] {oops}"]))

    add(Case("payload boot from its ext4 disk, no 9p: passes",
             [make_run(tmp, "payload", guest="payload", mounts=root + results)],
             head("stock")[:1] + [payload] + clean()[1:]))
    add(Case("payload boot with a 9p mount fails",
             [make_run(tmp, "payload-9p", guest="payload",
                       mounts=root + "results /host/mnt/results 9p rw,sync 0 0\n")],
             head("stock")[:1] + ["not " + payload] + clean()[1:],
             diag=["/host/mnt/results 9p results"]))
    add(Case("payload boot on the host's 9p root fails",
             [make_run(tmp, "payload-9proot", guest="payload",
                       mounts="hostroot /host 9p ro 0 0\n" + results)],
             head("stock")[:1] + ["not " + payload] + clean()[1:],
             diag=["/host 9p hostroot", "no ext4 root at /host (the payload disk)"]))
    add(Case("payload boot that recorded no mounts fails",
             [make_run(tmp, "payload-nomounts", guest="payload")],
             head("stock")[:1] + ["not " + payload] + clean()[1:],
             diag=["guest.mounts missing: the guest did not record its mounts"]))
    add(Case("9p boot: no payload check",
             [make_run(tmp, "ninep", guest="9p", mounts="hostroot /host 9p ro 0 0\n")],
             clean()))

    # 1. KTAP directives and skips.
    out = "TAP version 13\n1..2\nok 1 first\nok 2 # SKIP no free hugetlb pages\n"
    add(Case("leaf SKIP not in allowed-skips fails (the 'ok N # SKIP' line)",
             [make_run(tmp, "leafskip", programs={"prog": program(out=out)})],
             head("stock") + prog("stock", "prog", ["ok first", "not ok 2"]) + tail("stock"),
             diag=["SKIP not allowed by ci/allowed-skips: no free hugetlb pages"]))
    out = ("TAP version 13\n1..3\nok 1 first\nok 2 - memfd-hugetlb # skip no free hugetlb pages\n"
           "#  RUN           global.hugetlb ...\n#      SKIP      no free hugetlb pages\n"
           "ok 3 # SKIP no free hugetlb pages\n")
    add(Case("allowed leaf SKIPs (named, '- ', lowercase, harness RUN name) are skipped",
             [make_run(tmp, "leafskip-ok", programs={"prog": program(out=out)})],
             head("stock") + prog("stock", "prog", [
                 "ok first", "ok memfd-hugetlb # SKIP no free hugetlb pages",
                 "ok global.hugetlb # SKIP no free hugetlb pages"]) + tail("stock"),
             skipped=2,
             skips="# test\nprog/memfd-hugetlb ^no free hugetlb\nprog/global\\.huge\\w+ hugetlb\n"))
    out = "TAP version 13\n1..0 # SKIP /dev/mockdma missing: load mockdma.ko\n"
    add(Case("whole-program SKIP (1..0 # SKIP, exit 4) not allowed fails",
             [make_run(tmp, "progskip", programs={"prog": program(out=out, rc="4")})],
             head("stock") + prog("stock", "prog", [], rc="ok 4", skip="not ok NAME")
             + tail("stock")))
    out = "TAP version 13\n1..3\nok 1 # SKIP no io_uring: Function not implemented\n"
    add(Case("allowed whole-program SKIP (ksft_exit_skip after the plan) is skipped",
             [make_run(tmp, "progskip-ok", programs={"prog": program(out=out, rc="4")})],
             head("stock") + prog("stock", "prog", [], rc="ok 4",
                                  skip="ok NAME # SKIP no io_uring: Function not implemented")
             + tail("stock"), skipped=1, skips="prog ^no io_uring\nprog/first .*\n"))
    out = "TAP version 13\n1..2\nok 1 first\nok 2 second\n"
    add(Case("exit status 4 without a SKIP line is a whole-program SKIP (fails)",
             [make_run(tmp, "rc4", programs={"prog": program(out=out, rc="4")})],
             head("stock") + prog("stock", "prog", rc="ok 4", skip="not ok NAME")
             + tail("stock"), diag=["SKIP not allowed by ci/allowed-skips: "
                                     "exit status 4 without a SKIP line"]))
    out = ("TAP version 13\n1..3\nok 1 first # XFAIL known bug\n"
           "not ok 2 second # TODO later\nok 3 third # xpass\n")
    add(Case("XFAIL passes, TODO and XPASS fail",
             [make_run(tmp, "xfail", programs={"prog": program(out=out, rc="0")})],
             head("stock") + prog("stock", "prog", ["ok first # XFAIL known bug",
                                                    "not ok second", "not ok third"])
             + tail("stock")))

    # 2. Plans and names.
    def ktap_case(case, out, leaves, diag, rc="0"):
        add(Case(case, [make_run(tmp, re.sub(r"\W+", "-", case),
                                 programs={"prog": program(out=out, rc=rc)})],
                 head("stock") + prog("stock", "prog", leaves, wf="not ok",
                                      rc=("ok " if rc == "0" else "not ok ") + rc)
                 + tail("stock"), diag=diag))

    ktap_case("missing plan fails", "ok 1 first\nok 2 second\n", ["ok first", "ok second"],
              ["no plan line (1..N)"])
    ktap_case("plan larger than the results fails",
              "1..3\nok 1 first\nok 2 second\n", ["ok first", "ok second"],
              ["plan 1..3 but 2 results (fewer than planned)"])
    ktap_case("plan smaller than the results fails",
              "1..1\nok 1 first\nok 2 second\n", ["ok first", "ok second"],
              ["plan 1..1 but 2 results (more than planned)"])
    ktap_case("malformed plan fails", "1..two\nok 1 first\nok 2 second\n",
              ["ok first", "ok second"], ["malformed plan line '1..two'"])
    ktap_case("zero results with exit status 0 fails", "TAP version 13\n1..0\n", [],
              ["no leaf results"])
    ktap_case("duplicate leaf names fail", "1..3\nok 1 first\nok 2 second\nok 3 first\n",
              ["ok first", "ok second", "ok first"],
              ["duplicate leaf name 'first' (results 1, 3)"])
    ktap_case("timeout: fewer results and exit status 124 fail",
              "1..3\nok 1 first\nok 2 second\n", ["ok first", "ok second"],
              ["plan 1..3 but 2 results (fewer than planned)", "timed out"], rc="124")

    # 3. Kernel identity.
    add(Case("label base with a stock uname fails",
             [make_run(tmp, "ident", "base", release="6.1.0-57-amd64")],
             ["not ok base: booted kernel matches label"] + clean("base")[1:],
             diag=["uname -r: 6.1.0-57-amd64", "a base kernel's uname -r must match -pinlab-base$"]))
    add(Case("label patched with a base uname fails",
             [make_run(tmp, "ident2", "patched", release="6.1.192-pinlab-base")],
             ["not ok patched: booted kernel matches label"] + clean("patched")[1:]))
    add(Case("label stock612 with a 6.12 Debian uname passes",
             [make_run(tmp, "ident5", "stock612", release="6.12.95+deb12-amd64")],
             clean("stock612")))
    add(Case("label stock612 with a 6.1 stock uname fails",
             [make_run(tmp, "ident6", "stock612", release="6.1.0-57-amd64")],
             ["not ok stock612: booted kernel matches label"] + clean("stock612")[1:],
             diag=["a stock612 kernel's uname -r must match ^6\\.12\\.\\d+\\+deb\\d+-amd64$"]))
    add(Case("unknown label fails",
             [make_run(tmp, "ident3", "stable", release="6.1.0-57-amd64")],
             ["not ok stable: booted kernel matches label"] + clean("stable")[1:],
             diag=["unknown kernel label 'stable' (stock, stock612, base, patched)"]))
    add(Case("missing uname fails", [make_run(tmp, "ident4", uname=False)],
             ["not ok stock: booted kernel matches label"] + clean()[1:],
             diag=["uname -r: missing"]))

    # 3b. A user's kernel tree (make check KERNELS=/path): labelled
    # user-<release>, its expectations in kernel.policy, the release its
    # build wrote in kernel.release.
    def user_run(case, release="6.12.95", meant="6.12.95", policy="user-6.12",
                 observe=False, programs=None):
        run = make_run(tmp, case, "user-" + meant, programs=programs, release=release)
        write(os.path.join(run, "kernel.policy"), policy + "\n")
        write(os.path.join(run, "kernel.release"), meant + "\n")
        if observe:
            write(os.path.join(run, "kernel.observe"), "observe\n")
        return run

    add(Case("a user's tree booted as built passes", [user_run("user")],
             clean("user-6.12.95"), diag=["expectations: user-6.12"]))
    add(Case("a user's tree with another uname fails",
             [user_run("user-other", release="6.12.94")],
             ["not ok user-6.12.95: booted kernel matches label"] + clean("user-6.12.95")[1:],
             diag=["the tree user-6.12.95 was built as '6.12.95'"]))
    # Observe mode: leaves and exit status are observations; the
    # invariants (well-formed KTAP and verdict lines, no splat, pins
    # balanced, sysctls restored) are the results.
    failing = "TAP version 13\n1..2\nnot ok 1 first\nok 2 second\n"
    bad_matrix = (CLEAN_OUT + "# MATRIX table=hazards id=H1 | outcome=\n"
                  "# MATRIX table=hazards id=H2 outcome=INTACT\n")
    lost = "nr_foll_pin_acquired 1064\nnr_foll_pin_released 1060\nmockdma_pages_pinned 0\n"
    lab = "user-6.13.2"
    add(Case("observe mode: outcomes observed, only the invariants judged",
             [user_run("observe", "6.13.2", "6.13.2", observe=True, programs={
                 "prog": program(out=failing, rc="1"),
                 "prog2": program(out=bad_matrix, pins=lost),
                 "prog3": program(dmesg="[ 12.0] BUG: Bad page state in process prog3\n"),
                 "prog4": program(out="TAP version 13\n1..0 # SKIP no rxe\n", rc="4"),
                 "prog5": program(out="TAP version 13\n1..2\nok 1 first\n", rc="124")})],
             head(lab) + [
                 f"ok {lab}/prog: completed within TEST_TIMEOUT",
                 f"ok {lab}/prog: KTAP output well-formed",
                 f"ok {lab}/prog: no unexpected kernel splat",
                 f"ok {lab}/prog: pin counters balanced",
                 f"ok {lab}/prog: sysctls restored",
                 f"ok {lab}/prog2: completed within TEST_TIMEOUT",
                 f"not ok {lab}/prog2: KTAP output well-formed",
                 f"ok {lab}/prog2: no unexpected kernel splat",
                 f"not ok {lab}/prog2: pin counters balanced",
                 f"ok {lab}/prog2: sysctls restored",
                 f"ok {lab}/prog3: completed within TEST_TIMEOUT",
                 f"ok {lab}/prog3: KTAP output well-formed",
                 f"not ok {lab}/prog3: no unexpected kernel splat",
                 f"ok {lab}/prog3: pin counters balanced",
                 f"ok {lab}/prog3: sysctls restored",
                 f"ok {lab}/prog4: completed within TEST_TIMEOUT",
                 f"ok {lab}/prog4: no unexpected kernel splat",
                 f"ok {lab}/prog4: pin counters balanced",
                 f"ok {lab}/prog4: sysctls restored",
                 f"not ok {lab}/prog5: completed within TEST_TIMEOUT",
                 f"ok {lab}/prog5: no unexpected kernel splat",
                 f"ok {lab}/prog5: pin counters balanced",
                 f"ok {lab}/prog5: sysctls restored"] + tail(lab),
             diag=[f"observed {lab}/prog/first: not ok",
                   f"observed {lab}/prog: exit status 1; 1 ok, 1 not ok, 0 skipped",
                   f"observed {lab}/prog4: skipped as a whole: no rxe",
                   "verdict line malformed (an empty value): "
                   "# MATRIX table=hazards id=H1 | outcome=",
                   "verdict line malformed (no '|' between keys and outcomes): "
                   "# MATRIX table=hazards id=H2 outcome=INTACT",
                   "64 pins acquired but 60 released during the program",
                   "[ 12.0] BUG: Bad page state in process prog3"]))

    # 4. Splats.
    bs = "buffers_stripped"
    ok_dmesg = WARN_BLOCK + EXT4_WARN
    add(Case("an expected WARNING with its own trace block passes (with timestamps)",
             [make_run(tmp, "warn-ok", programs={bs: program(dmesg=ok_dmesg)})], clean(tid=bs)))
    add(Case("an expected WARNING with its own trace block passes (no timestamps)",
             [make_run(tmp, "warn-ok2", programs={bs: program(dmesg=strip_ts(ok_dmesg))})],
             clean(tid=bs)))
    add(Case("a Call Trace outside the allowed WARNING block fails",
             [make_run(tmp, "trace", programs={bs: program(dmesg=ok_dmesg + BARE_TRACE)})],
             head("stock") + prog("stock", bs, splat="not ok") + tail("stock"),
             diag=["[  130.000000] Call Trace:"]))
    no_end = WARN_BLOCK.replace("[  123.456713] ---[ end trace 0000000000000000 ]---\n", "")
    add(Case("an expected WARNING without its end trace line does not allow its Call Trace",
             [make_run(tmp, "noend", programs={bs: program(dmesg=no_end)})],
             head("stock") + prog("stock", bs, splat="not ok") + tail("stock")))
    add(Case("an expected WARNING of another program fails",
             [make_run(tmp, "warn-other", programs={"prog": program(dmesg=ok_dmesg)})],
             head("stock") + prog("stock", "prog", splat="not ok") + tail("stock"),
             diag=["[  123.456701] WARNING: CPU: 1 PID: 345 at fs/ext4/inode.c:3620 "
                   "ext4_dirty_folio+0x4a/0x50 [ext4]", "[  123.456707] Call Trace:"]))
    oom = ("[  140.000000] hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0\n"
           "[  140.100000] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
           "list_del corruption, ffff888003c1e0a8->next is LIST_POISON1\n"
           "[  140.200000] refcount_t: underflow; use-after-free.\n")
    add(Case("OOM, RCU stall, list corruption, refcount_t fail",
             [make_run(tmp, "oom", programs={"prog": program(dmesg=oom)})],
             head("stock") + prog("stock", "prog", splat="not ok") + tail("stock"),
             diag=oom.splitlines()))
    add(Case("a splat in between.dmesg fails (expected splats do not apply there)",
             [make_run(tmp, "between", programs={bs: program()},
                       between={bs: WARN_BLOCK})],
             head("stock") + prog("stock", bs) + tail("stock", between="not ok"),
             diag=["between.dmesg: before buffers_stripped: [  123.456707] Call Trace:"]))
    add(Case("a splat in rdma.dmesg or final.dmesg fails",
             [make_run(tmp, "final", rdma="[ 50.0] rdma_rxe: loaded\n[ 51.0] BUG: Bad rss-counter"
                       " state mm:000000 type:MM_FILEPAGES val:-1\n",
                       final="[  200.000000] Bad page state in process kworker/0:1\n")],
             head("stock") + prog("stock", "prog") + tail("stock", final="not ok", rdma="not ok"),
             diag=["final.dmesg: [  200.000000] Bad page state in process kworker/0:1"]))
    add(Case("a clean rdma.dmesg passes",
             [make_run(tmp, "rdma-ok", rdma="[ 50.0] rdma_rxe: loaded\n")],
             head("stock") + prog("stock", "prog") + tail("stock", rdma="ok")))
    crash = {"prog": program(), "prog2": program(rc=None, out=None, dmesg=None, pins=None,
                                                 sysctl=None)}
    console = ("ok 1 I/O error case\n# BUG: in a comment\npinlab-guest: running prog2\n"
               "[   90.000000] BUG: unable to handle page fault for address: 0000000000001000\n"
               "[   90.000001] Kernel panic - not syncing: Fatal exception\n")
    add(Case("a crash: no exit status, no final log, console splats fail",
             [make_run(tmp, "crash", programs=crash, final=None, console=console)],
             head("stock") + prog("stock", "prog")
             + ["not ok stock/prog2: completed", "ok stock: no kernel splat between programs",
                "not ok stock: no kernel splat after the last program",
                "not ok stock: no kernel splat on the console"],
             diag=["console.log: [   90.000000] BUG: unable to handle page fault for address:"
                   " 0000000000001000"]))
    add(Case("final.dmesg without its end line: the guest did not finish",
             [make_run(tmp, "unfinished", finished=False)],
             head("stock") + prog("stock", "prog")
             + ["ok stock: no kernel splat between programs",
                "not ok stock: no kernel splat after the last program",
                "ok stock: no kernel splat on the console"]))

    # 5. Pins.
    def pins_case(case, label, leak, diag, **kw):
        add(Case(case, [make_run(tmp, re.sub(r"\W+", "-", case), label,
                                 programs={"prog": program(**kw)})],
                 head(label) + prog(label, "prog", pins="not ok" if leak else "ok")
                 + tail(label), diag=diag))

    pins_case("pin delta unbalanced fails", "stock", True,
              ["64 pins acquired but 60 released during the program"],
              pins="nr_foll_pin_acquired 1064\nnr_foll_pin_released 1060\nmockdma_pages_pinned 0\n")
    pins_case("balanced delta after an earlier imbalance passes", "stock", False, [],
              pins0="nr_foll_pin_acquired 1000\nnr_foll_pin_released 990\nmockdma_pages_pinned 0\n",
              pins="nr_foll_pin_acquired 1064\nnr_foll_pin_released 1054\nmockdma_pages_pinned 0\n")
    pins_case("missing mockdma counter fails", "stock", True,
              ["mockdma pages_pinned missing (mockdma not loaded, or no "
               "/sys/kernel/debug/mockdma/stats)"],
              pins="nr_foll_pin_acquired 1064\nnr_foll_pin_released 1064\n")
    pins_case("mockdma still holding pages fails", "stock", True,
              ["mockdma still holds 16 pages pinned"],
              pins="nr_foll_pin_acquired 1064\nnr_foll_pin_released 1064\nmockdma_pages_pinned 16\n")
    pins_case("missing .pins0 fails", "stock", True, ["no prog.pins0"], pins0=None)
    pins_case("dma_pin_longterm_pages missing on patched fails", "patched", True,
              ["dma_pin_longterm_pages missing before or after (required on the patched kernel)"],
              pins0=PINS0 + "\n", pins=PINS + "\n")
    pins_case("dma_pin_longterm_pages left higher fails", "patched", True,
              ["dma_pin_longterm_pages 0 before, 16 after: long-term pinned pages left behind"],
              pins=PINS + "dma_pin_longterm_pages 16\n")
    pins_case("dma_pin_longterm_pages on base, unchanged, passes", "base", False, [],
              pins0=PINS0 + "dma_pin_longterm_pages 3\n", pins=PINS + "dma_pin_longterm_pages 3\n")

    # 6. Sysctls.
    changed = SYSCTL.replace("vm.dirty_bytes 0", "vm.dirty_bytes 4194304").replace(
        "vm.dirty_ratio 20", "vm.dirty_ratio 0")
    add(Case("a sysctl left changed fails, restored by run-tests",
             [make_run(tmp, "sysctl", programs={"prog": program(
                 sysctl=changed, restore="vm.dirty_bytes 0 ok\nvm.dirty_ratio 20 ok\n")})],
             head("stock") + prog("stock", "prog", sysctl="not ok") + tail("stock"),
             diag=["left changed by the program: vm.dirty_bytes vm.dirty_ratio",
                   "vm.dirty_bytes: 0 before, 4194304 after; run-tests restored it before "
                   "the next program"]))
    thp = SYSCTL.replace("enabled madvise", "enabled always")
    add(Case("a sysctl that run-tests could not restore fails, saying so",
             [make_run(tmp, "sysctl2", programs={"prog": program(
                 sysctl=thp, restore="/sys/kernel/mm/transparent_hugepage/enabled madvise "
                                     "failed always\n")})],
             head("stock") + prog("stock", "prog", sysctl="not ok") + tail("stock"),
             diag=["/sys/kernel/mm/transparent_hugepage/enabled: madvise before, always after; "
                   "run-tests could not restore it (now always): later programs ran with it "
                   "changed"]))
    add(Case("a knob that appeared fails", [make_run(tmp, "sysctl3", programs={
        "prog": program(sysctl=SYSCTL + "vm.dma_pin_lru 0\n")})],
             head("stock") + prog("stock", "prog", sysctl="not ok") + tail("stock"),
             diag=["vm.dma_pin_lru: (absent) before, 0 after; not restored by run-tests: "
                   "later programs ran with it changed"]))

    # 7. Several runs, REPEAT ids, host results, configuration errors.
    host = os.path.join(tmp, "host.txt")
    write(host, "ok driver builds\n# warning: x\nnot ok driver is sparse clean (C=2)\n")
    rep = {"prog.r1": program(), "prog.r2": program()}
    add(Case("host results, three kernels, REPEAT ids",
             [make_run(tmp, "three", "stock", programs=rep), make_run(tmp, "three", "base"),
              make_run(tmp, "three", "patched")],
             ["ok host/driver builds", "not ok host/driver is sparse clean (C=2)"]
             + head("stock") + prog("stock", "prog.r1") + prog("stock", "prog.r2")
             + tail("stock") + clean("base") + clean("patched"),
             args=["--host", host], diag=["warning: x"]))
    # 8b. A KASAN report allowed for one program is allowed whole there
    # (its Call Trace and "page dumped" lines too), and fails elsewhere.
    kasan = ("[  551.434216] " + "=" * 66 + "\n"
             "[  551.434899] BUG: KASAN: slab-out-of-bounds in rxe_mr_copy+0x34a/0x390 [rdma_rxe]\n"
             "[  551.435866] Read of size 8 at addr ffff88800d8f1340 by task ksoftirqd/0/12\n"
             "[  551.436174] Call Trace:\n[  551.436174]  <TASK>\n"
             "[  551.436174]  rxe_mr_copy+0x34a/0x390 [rdma_rxe]\n[  551.436174]  </TASK>\n"
             "[  551.436174] page dumped because: kasan: bad access detected\n"
             "[  551.436174] " + "=" * 66 + "\n")
    for tid, verdict in (("rdma_write_file", "ok"), ("prog", "not ok")):
        d = f"[   10.000000] pinlab: START {tid}\n{kasan}[   11.000000] pinlab: END {tid}\n"
        add(Case(f"KASAN report in {tid}: {verdict}",
                 [make_run(tmp, f"kasan-{tid}", "patched", programs={tid: program(dmesg=d)})],
                 head("patched") + prog("patched", tid, splat=verdict) + tail("patched")))
    # 8c. An injection hook that gave up on the slot lock fails the
    # program's pin check.
    add(Case("inject_lock_busy rising fails the pin check",
             [make_run(tmp, "lockbusy", "stock", programs={"prog": program(
                 pins0=PINS0 + "mockdma_inject_lock_busy 0\n",
                 pins=PINS + "mockdma_inject_lock_busy 2\n")})],
             head("stock") + prog("stock", "prog", pins="not ok") + tail("stock"),
             diag=["2 injection hooks gave up on mockdma's slot lock (inject_lock_busy 0 -> 2): "
                   "their writes were not made"]))
    # 8. kmemleak's report (make stress): our objects fail, the kernel's
    # own are counted only.
    kml_ours = ('unreferenced object 0xffff888004c1e000 (size 64):\n'
                '  comm "kill_unload", pid 812, jiffies 4295012345 (age 20.1s)\n'
                '  backtrace:\n    [<ffffffff812b3c41>] kmalloc_trace+0x21/0x90\n'
                '    [<ffffffffc0201a3e>] mockdma_pin+0x1ae/0x5e0 [mockdma]\n')
    kml_kernel = ('unreferenced object 0xffff888003a0c300 (size 32):\n'
                  '  comm "swapper/0", pid 1, jiffies 4294892345 (age 300.0s)\n'
                  '  backtrace:\n    [<ffffffff812b3c41>] kmalloc_trace+0x21/0x90\n'
                  '    [<ffffffff81f2a1b2>] acpi_os_map_iomem+0x9b/0x1c0\n')
    for name, text, verdict, ndiag in (
            ("kmemleak: an object from mockdma fails", kml_kernel + kml_ours, "not ok",
             "2 unreferenced objects, 1 with a mockdma or series frame"),
            ("kmemleak: only the kernel's own objects pass", kml_kernel, "ok",
             "1 unreferenced objects, 0 with a mockdma or series frame"),
            ("kmemleak: an empty report passes", "", "ok", None)):
        run = make_run(tmp, re.sub(r"\W+", "-", name), "patched")
        write(os.path.join(run, "kmemleak.txt"), text)
        add(Case(name, [run], clean("patched") +
                 [f"{verdict} patched: kmemleak: no object leaked by mockdma or the series"],
                 diag=[ndiag] if ndiag else []))
    add(Case("a malformed allowed-skips line fails",
             [make_run(tmp, "badcfg")], ["not ok report: configuration line valid"] * 2 + clean(),
             skips="prog/( x\nlonely\n"))
    return c


def start_case(case, tmp):
    """report.py check on the case's runs, started (all cases run at once)."""
    skips = os.path.join(tmp, "skips-" + re.sub(r"\W+", "-", case.name))
    write(skips, case.skips)
    args = ["--allowed-skips", skips] if case.args is None else list(case.args)
    if case.args and "--host" in case.args:
        args += ["--allowed-skips", skips]
    return subprocess.Popen([sys.executable, REPORT, "check", *args, *case.runs],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_case(case, proc):
    """Problems of one case: [] when report.py said exactly what it should."""
    stdout, stderr = proc.communicate()
    p = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    lines = p.stdout.splitlines()
    problems = []
    if p.stderr:
        problems.append("stderr: " + p.stderr.strip().replace("\n", " | ")[-300:])
    results = [line for line in lines if re.match(r"(not )?ok \d+ ", line)]
    nums = [int(re.match(r"(?:not )?ok (\d+)", line).group(1)) for line in results]
    got = [re.sub(r"^(not ok|ok) \d+ ", r"\1 ", line) for line in results]
    if lines[:2] != ["TAP version 13", f"1..{len(results)}"]:
        problems.append(f"header {lines[:2]}")
    if nums != list(range(1, len(results) + 1)):
        problems.append(f"result numbers {nums}")
    if got != case.want:
        for i in range(max(len(got), len(case.want))):
            g = got[i] if i < len(got) else "(none)"
            w = case.want[i] if i < len(case.want) else "(none)"
            if g != w:
                problems.append(f"line {i + 1}: want '{w}', got '{g}'")
    if not lines or lines[-1] != case.summary:
        problems.append(f"summary: want '{case.summary}', got '{lines[-1] if lines else ''}'")
    diags = [line[2:] for line in lines if line.startswith("# ")]
    for d in case.diag:
        if d not in diags:
            problems.append(f"no diagnostic '{d}'")
    if p.returncode != case.rc:
        problems.append(f"exit status {p.returncode}, want {case.rc}")
    return problems, p.stdout


def check_matrix(tmp):
    """matrix mode: one column per kernel, in the order the runs were given."""
    runs = {}
    for label, val in (("stock", "16/16"), ("base", "16/16"), ("patched", "0/16")):
        out = ("TAP version 13\n1..1\n# MATRIX table=offlru mem=ext4 pin=pin_longterm | "
               f"on_lru_pinned={val} parked=x y\nok 1 first\n")
        runs[label] = make_run(tmp, "matrix", label, programs={"offlru": program(out=out)})
    problems = []
    for order in (["stock", "base", "patched"], ["patched", "stock"]):
        p = subprocess.run([sys.executable, REPORT, "matrix", *[runs[k] for k in order]],
                           capture_output=True, text=True)
        head = "| mem | pin | " + " | ".join(
            [f"{k}: on_lru_pinned" for k in order] + [f"{k}: parked" for k in order]) + " |"
        vals = {"stock": "16/16", "base": "16/16", "patched": "0/16"}
        row = "| ext4 | pin_longterm | " + " | ".join(
            [vals[k] for k in order] + ["x y"] * len(order)) + " |"
        want = ["### offlru", "", head, "|" + "---|" * (2 + 2 * len(order)), row]
        got = p.stdout.splitlines()[:5]
        if got != want or p.returncode:
            problems.append(f"{' '.join(order)}: want {want}, got {got} (rc {p.returncode})")
    return problems


def bench_out(lines, ok=True):
    body = "".join(f"# BENCH {line}\n" for line in lines)
    return f"TAP version 13\n1..1\n{body}{'ok' if ok else 'not ok'} 1 sane\n"


PIN_CELL = "table=pin-cost mem=anon page=4k size_mib=1 gup_call=64 method={m} dma_pin_lru={s} | " \
           "ns_per_page={v} ns_per_page_min={v} ns_per_page_max={v} n=1"


def check_bench(tmp):
    """bench mode: ratios within one boot, goal lines at column 0, numbers
    of a program whose checks failed left out and its goal FAILED, "not
    applicable" without gup_test or the series' switch, bench.json."""
    problems = []
    stock = make_run(tmp, "bench", "stock", programs={"pin_bench": program(out=bench_out(
        [PIN_CELL.format(m="mockdma-longterm", s="-", v=500)]))})
    base = make_run(tmp, "bench", "base", programs={"pin_bench": program(out=bench_out(
        [PIN_CELL.format(m="mockdma-longterm", s="-", v=400),
         PIN_CELL.format(m="gup_test-longterm", s="-", v=380)]))})
    patched = make_run(tmp, "bench", "patched", programs={"pin_bench": program(out=bench_out(
        [PIN_CELL.format(m=m, s=s, v=v) for m, s, v in (
            ("mockdma-longterm", "1", 1200), ("gup_test-longterm", "1", 1140),
            ("mockdma-longterm", "0", 400), ("gup_test-longterm", "0", 390))]))})
    broken = make_run(tmp, "bench-broken", "base", programs={"pin_bench": program(
        out=bench_out([PIN_CELL.format(m="mockdma-longterm", s="-", v=1),
                       PIN_CELL.format(m="gup_test-longterm", s="-", v=1)], ok=False), rc="1")})
    cases = [
        ([stock], 0, ["P1 pin-cost not applicable (no gup_test", "P2 park-cost not applicable (no series)"]),
        ([stock, base], 0, ["P1 pin-cost ratio=0.95 goal>=0.95 met", "P2 park-cost not applicable (no series)"]),
        # P1 on patched from the parking-off cells (390/400), not the on ones (1140/1200)
        ([patched], 0, ["P1 pin-cost ratio=0.975 goal>=0.95 met", "P2 park-cost-thp not applicable"]),
        ([broken], 1, ["P1 pin-cost FAILED (sanity checks failed: base/pin_bench)",
                       "# UNTRUSTED base/pin_bench"]),
    ]
    for n, (runs, rc, want) in enumerate(cases):
        out = os.path.join(tmp, f"bench-out-{n}")
        os.makedirs(out, exist_ok=True)
        p = subprocess.run([sys.executable, REPORT, "bench", "--out", out, *runs],
                           capture_output=True, text=True)
        lines = p.stdout.splitlines()
        for w in want:
            if not any(line.startswith(w) for line in lines):
                problems.append(f"case {n}: no line starting '{w}' (rc {p.returncode}): "
                                f"{[x for x in lines if x[:1] in 'PM#']}")
        if p.returncode != rc:
            problems.append(f"case {n}: exit status {p.returncode}, want {rc}: {p.stderr[-300:]}")
        if n == 3 and any("| 1 " in line for line in lines):
            problems.append("case 3: an untrusted program's number was printed")
        if not os.path.exists(os.path.join(out, "bench.json")):
            problems.append(f"case {n}: no bench.json")
    return problems


def main():
    verbose = "-v" in sys.argv[1:]
    # The cases' expectations are of the whole series: a prefix run's
    # relaxation (ci/boot-series-prefixes.sh) must not reach report.py here.
    os.environ.pop("PINLAB_SERIES_PREFIX", None)
    with tempfile.TemporaryDirectory(prefix="pinlab-test-report.") as tmp:
        all_cases = cases(tmp)
        print("TAP version 13")
        print(f"1..{len(all_cases) + 2}")
        failed = 0
        procs = [start_case(case, tmp) for case in all_cases]
        for n, (case, proc) in enumerate(zip(all_cases, procs), 1):
            problems, out = check_case(case, proc)
            for pr in problems:
                print(f"# {pr}")
            if problems and verbose:
                for line in out.splitlines():
                    print(f"#   | {line}")
            print(f"{'not ok' if problems else 'ok'} {n} {case.name}")
            failed += bool(problems)
        problems = check_matrix(tmp)
        for pr in problems:
            print(f"# {pr}")
        print(f"{'not ok' if problems else 'ok'} {len(all_cases) + 1} "
              "matrix: a column per kernel, in the order of the runs")
        failed += bool(problems)
        problems = check_bench(tmp)
        for pr in problems:
            print(f"# {pr}")
        print(f"{'not ok' if problems else 'ok'} {len(all_cases) + 2} "
              "bench: same-boot ratios, goal lines, untrusted numbers left out")
        failed += bool(problems)
        total = len(all_cases) + 2
        print(f"{total - failed} passed, {failed} failed, 0 skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
