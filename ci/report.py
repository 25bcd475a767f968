#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn pinlab run directories into KTAP, a verdict and the results matrix.

  report.py check [--host FILE] RUN_DIR...   KTAP on stdout; exit 1 on failure
  report.py matrix RUN_DIR...                Markdown matrix on stdout
  report.py report [--out DIR] RUN_DIR...    report.md on stdout: the
                                             hazard table, the benchmark
                                             goals and figures (DIR's or the
                                             newest bench run's), every
                                             table, the run's identity
  report.py bench --out DIR RUN_DIR...       the benchmarks: tables and goal
                                             lines on stdout; DIR/bench.json,
                                             bench.md, report.md, plots/
                                             (ci/benchreport.py)
  report.py compare A B                      what differs between two result
                                             directories

check also takes --expected-splats FILE and --allowed-skips FILE (default
ci/expected-splats, ci/allowed-skips), for ci/test-report.py.

A run directory is what one VM boot left.  The host (ci/vm.sh) writes
kernel.label (stock, base or patched), tests.list (the test runs asked for,
in order) and console.log; the guest (ci/guest/run-tests) writes:

  uname, proc_version, build_id   the booted kernel: `uname -r`, /proc/version,
                                  the GNU build id from /sys/kernel/notes
                                  ("none" without one)
  setup.status, setup.dmesg       guest setup, and the kernel log up to its end
  between.dmesg                   the kernel log written before each program
                                  (after the previous one), each part headed
                                  "# pinlab: kernel log before <id>"
  rdma.dmesg                      the kernel log of Soft-RoCE setup/teardown
  final.dmesg                     the kernel log after the last program and
                                  after the RDMA teardown, then the line
                                  "# pinlab: end of the run"
  tests/<id>.out, .rc, .dmesg     a test run's KTAP, exit status, kernel log
  tests/<id>.pins0, .pins         pin counters before and after it
  tests/<id>.sysctl0, .sysctl     the knobs a program may change, before/after
  tests/<id>.restore              the knobs run-tests wrote back after it
  kmemleak.txt                    kmemleak's report after two scans at the
                                  end (kernels with kmemleak: make stress)

Every leaf result of every program becomes one KTAP line
"<kernel>/<test>/<leaf>" (a leaf without a description is named by the
harness's "#  RUN  <name> ..." line before it, else by its number).  XFAIL
counts as a pass; TODO and XPASS as failures (the suite carries none).  A
SKIP, of a leaf or of a whole program (exit status 4, "1..0 # SKIP", or
ksft_exit_skip()'s closing "ok N # SKIP"), fails unless ci/allowed-skips
allows it; an allowed one is printed "# SKIP reason" and counted skipped.

Per run: "<kernel>: booted kernel matches label" (uname -r against the label),
in payload mode (guest.mode, ci/vm.sh) "<kernel>: payload guest, no 9p
mount" (guest.mounts, the guest's /proc/mounts: the root at /host is ext4
and nothing is 9p),
guest setup (with setup.dmesg), one splat check each for between.dmesg,
rdma.dmesg (when there is one) and final.dmesg, and, when the VM did not
finish (no end line in final.dmesg), one over the kernel lines of
console.log.  A kernel that died before PID 1 ran, of a death
ci/allowed-boot-flakes allows for it (`report.py boot-flake RUN_DIR`), is
booted once more by ci/pinlab.sh, which keeps the first console as
console.boot1.log: "<kernel>: first boot died before init: allowed by
ci/allowed-boot-flakes", with its splats.
Where kmemleak.txt exists: "<kernel>: kmemleak: no object
leaked by mockdma or the series" (an unreferenced object whose allocation
backtrace has a mockdma or series frame fails; the others are counted in
its diagnostics: boot-time false positives of the kernel are not ours to
fix, and are listed so a reader can judge).

Per test run, after its leaves:
  <test>: KTAP output well-formed   one valid plan, as many leaf results as it
                                    plans (at least one), unique leaf names;
                                    not checked for a program that skipped
  <test>: exit status N             0, or 4 with a skip
  <test>: no unexpected kernel splat   <id>.dmesg; ci/expected-splats allows
                                    lines for that program only, and an
                                    expected WARNING its own trace block; a
                                    "Call Trace" outside such a block fails
  <test>: pin counters balanced     nr_foll_pin_acquired and _released rose by
                                    as much; mockdma pages_pinned 0 after;
                                    dma_pin_longterm_pages (the series'
                                    dma_pin_park - dma_pin_unpark, required
                                    on "patched") back where it was
  <test>: sysctls restored          the knobs of <id>.sysctl0 unchanged

A run of a user's kernel tree (make check KERNELS=/path) is labelled
user-<release>; kernel.policy names the expectations its programs took
(user-6.1, user-6.12, user-patched: userspace/lib/pinlab.c pl_kernel())
and kernel.release the release the harness meant to boot, which uname -r
must equal.  With kernel.observe (a kernel pinlab cannot place, or
PINLAB_OBSERVE=1) the run is in observe mode: each program's leaves, whole
skip and exit status are printed as "# observed ..." lines and judged
neither way; what is asserted is what holds on any kernel: the run-level
checks above, and per program its KTAP and "# MATRIX" verdict lines
well-formed (not for a program that timed out), no unexpected splat, pins
balanced and sysctls restored.

The last line is "N passed, N failed, N skipped".
"""
import argparse
import collections
import os
import re
import sys

# "ok N [- ]description [# DIRECTIVE reason]"; the description ends at the
# first '#' that starts a directive (case-insensitive).
RESULT_RE = re.compile(r"^(?P<not>not )?ok (?P<num>\d+)(?P<rest>(?:\s.*)?)$")
DIRECTIVE_RE = re.compile(r"#\s*(?P<directive>SKIP|XFAIL|XPASS|TODO)\b(?P<reason>.*)$",
                          re.IGNORECASE)
PLAN_LIKE_RE = re.compile(r"^\d+\.\.")
PLAN_RE = re.compile(r"^1\.\.(?P<n>\d+)\s*(?:#\s*(?P<skip>SKIP)\b\s*(?P<reason>.*?))?\s*$",
                     re.IGNORECASE)
# kselftest_harness.h: "#  RUN           fixture.variant.test ..." before
# each test; its "ok N # SKIP reason" for a skipped test names nothing.
HARNESS_RUN_RE = re.compile(r"^#\s+RUN\s+(\S+)\s+\.\.\.\s*$")

# Kernel log lines that mean something went wrong in the kernel.  ext4's
# warnings go through ext4_warning(), not WARN(), so "WARNING:" misses them.
SPLAT_RE = re.compile(
    r"kernel BUG at|BUG:|WARNING:|Oops|Internal error|general protection fault"
    r"|KASAN:|UBSAN:|Kernel panic|unreferenced object|Call Trace"
    r"|possible circular locking|possible recursive locking"
    r"|suspicious RCU usage|blocked for more than|soft lockup|hard LOCKUP"
    r"|rcu: INFO: .*detected stall|rcu_.* self-detected stall|RCU Stall"
    r"|invoked oom-killer|Out of memory|oom_reaper|page allocation failure"
    r"|Bad page state|Bad page map|page dumped because"
    r"|list_add corruption|list_del corruption|refcount_t:"
    r"|does not have buffers attached|EXT4-fs warning|EXT4-fs error"
    r"|XFS .*: (?:Corruption|Internal error|metadata I/O error)"
    r"|XFS: Assertion failed|I/O error"
    r"|BTRFS (?:critical|error|warning)|device-mapper: integrity: .*(?:failed|error)")
CALL_TRACE_RE = re.compile(r"Call Trace")
WARNING_RE = re.compile(r"WARNING:")
CUT_RE = re.compile(r"------------\[ cut here \]------------")
END_TRACE_RE = re.compile(r"---\[ end trace [0-9a-f]+ \]---")
# A KASAN report: "BUG: KASAN: ..." after a line of '=' and up to the next.
KASAN_RE = re.compile(r"BUG: KASAN: ")
KASAN_SEP_RE = re.compile(r"^(?:\[[ 0-9.]+\] )?={40,}\s*$")
# Lines run-tests writes into the dmesg files between kernel logs.
HEADER_PREFIX = "# pinlab: "
END_OF_RUN = HEADER_PREFIX + "end of the run"
# console.log carries the guest's userspace output too (the programs' KTAP,
# run-tests' progress); only the rest is kernel log.
CONSOLE_USER_RE = re.compile(r"^(?:ok |not ok |#|TAP version|\d+\.\.\d+|pinlab-guest:"
                             r"|pinlab-init:|pinlab:)")

# How the exit status of a kselftest program reads (kselftest/runner.sh).
KSFT_PASS, KSFT_FAIL, KSFT_SKIP, TIMEOUT = 0, 1, 4, 124

# What `uname -r` of each kernel label looks like.
LABEL_RELEASE = {
    "stock": re.compile(r"^6\.1\.0-\d+-amd64$"),
    "stock612": re.compile(r"^6\.12\.\d+\+deb\d+-amd64$"),
    "base": re.compile(r"-pinlab-base$"),
    "patched": re.compile(r"-pinlab-patched$"),
}

# The expectations of a user's kernel tree (kernel.policy).
USER_POLICIES = ("user-6.1", "user-6.12", "user-patched")
# The policies whose kernels carry the series, booted on.
SERIES_POLICIES = ("patched", "user-patched")

# The pin counters of <id>.pins0 / <id>.pins (ci/guest/run-tests).
ACQ, REL, OFFLRU, HELD = ("nr_foll_pin_acquired", "nr_foll_pin_released",
                          "dma_pin_longterm_pages", "mockdma_pages_pinned")
LOCK_BUSY = "mockdma_inject_lock_busy"

Leaf = collections.namedtuple("Leaf", "num ok name named directive reason")


def read(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def program_of(tid):
    """The program a test run id names ("wb_window.r3" is a REPEAT run)."""
    return re.sub(r"\.r\d+$", "", tid)


def config_lines(path):
    """(line number, fields) of a '#'-commented table: program, then the rest."""
    for n, line in enumerate(read(path).splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield n, line.split(None, 1)


def expected_splats(path, errors):
    """ci/expected-splats: '<program> <regex>' lines; a kernel message that a
    scenario provokes on purpose is allowed in that program's own log."""
    table = {}
    for n, fields in config_lines(path):
        try:
            if len(fields) != 2:
                raise ValueError("want '<program> <regex>'")
            table.setdefault(fields[0], []).append(re.compile(fields[1]))
        except (ValueError, re.error) as e:
            errors.append(f"{path}:{n}: {e}")
    return table


BOOT_FLAKES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "allowed-boot-flakes")


def boot_flake(console, label):
    """The first line of a console (a boot that died before init) that
    ci/allowed-boot-flakes allows for kernel label, or None."""
    table = expected_splats(BOOT_FLAKES, [])
    for line in console.splitlines():
        if any(r.search(line) for r in table.get(label, [])):
            return line
    return None


def allowed_skips(path, errors):
    """ci/allowed-skips: '<program>[/<case-regex>] <reason-regex>' lines.
    Without a case the entry allows a skip of the whole program, with one
    a leaf whose whole name the case regex matches; the reason regex is
    searched in the skip's reason."""
    table = []
    for n, fields in config_lines(path):
        try:
            if len(fields) != 2:
                raise ValueError("want '<program>[/<case-regex>] <reason-regex>'")
            prog, sep, case = fields[0].partition("/")
            table.append((prog, re.compile(case) if sep else None, re.compile(fields[1])))
        except (ValueError, re.error) as e:
            errors.append(f"{path}:{n}: {e}")
    return table


def skip_allowed(table, prog, case, reason):
    for e_prog, e_case, e_reason in table:
        if e_prog != prog or (e_case is None) != (case is None):
            continue
        if case is not None and not e_case.fullmatch(case):
            continue
        if e_reason.search(reason):
            return True
    return False


class Report:
    def __init__(self):
        self.lines = []
        self.results = 0
        self.counts = {"pass": 0, "fail": 0, "skip": 0}

    def add(self, ok, name, directive=None, reason="", diag=()):
        for d in diag:
            self.lines.append(f"# {d}")
        self.results += 1
        line = f"{'ok' if ok else 'not ok'} {self.results} {name}"
        if directive:
            line += f" # {directive} {reason}".rstrip()
        self.lines.append(line)
        if directive == "SKIP":
            self.counts["skip"] += 1
        elif ok:
            self.counts["pass"] += 1
        else:
            self.counts["fail"] += 1

    def note(self, text):
        """A comment line that is no result (observe mode's observations)."""
        self.lines.append(f"# {text}")

    def emit(self):
        n = self.results
        print("TAP version 13")
        print(f"1..{n}")
        for line in self.lines:
            print(line)
        c = self.counts
        print(f"{c['pass']} passed, {c['fail']} failed, {c['skip']} skipped")
        return 1 if c["fail"] or n == 0 else 0


def test_ids(run):
    """The test runs the host asked for (tests.list), in order: a run that
    never produced files still gets a failing line."""
    return (os.path.join(run, "tests"),
            read(os.path.join(run, "tests.list")).split())


class Program:
    """The top-level KTAP of one kselftest program's output."""

    def __init__(self, out):
        self.plan = None          # N of the first valid "1..N"
        self.plan_skip = None     # reason of "1..0 # SKIP reason"
        self.problems = []        # malformed or repeated plan lines
        self.leaves = []
        self.bail = None
        run_name = None
        for line in out.splitlines():
            line = line.rstrip()
            m = HARNESS_RUN_RE.match(line)
            if m:
                run_name = m.group(1)
                continue
            if line.startswith("Bail out!") and self.bail is None:
                self.bail = line
                continue
            if PLAN_LIKE_RE.match(line):
                self._plan(line)
                continue
            m = RESULT_RE.match(line)
            if m:
                self.leaves.append(self._leaf(m, run_name))
                run_name = None

    def _plan(self, line):
        m = PLAN_RE.match(line)
        if not m or (m.group("skip") and m.group("n") != "0"):
            self.problems.append(f"malformed plan line '{line}'")
        elif self.plan is not None or self.plan_skip is not None:
            self.problems.append(f"a second plan line '{line}'")
        elif m.group("skip"):
            self.plan = 0
            self.plan_skip = m.group("reason") or "1..0 # SKIP"
        else:
            self.plan = int(m.group("n"))

    @staticmethod
    def _leaf(m, run_name):
        rest = m.group("rest")
        d = DIRECTIVE_RE.search(rest)
        desc = rest[:d.start()] if d else rest
        desc = " ".join(desc.replace("#", " ").split())
        if desc.startswith("-"):
            desc = desc[1:].strip()
        directive = d.group("directive").upper() if d else None
        reason = d.group("reason").strip() if d else ""
        name = desc or run_name or m.group("num")
        return Leaf(int(m.group("num")), m.group("not") is None, name, bool(desc),
                    directive, reason)


def whole_skip(prog, rc):
    """The reason a program skipped as a whole, or None; ksft_exit_skip()'s
    closing "ok N # SKIP reason" leaves prog.leaves."""
    if prog.plan_skip is not None:
        return prog.plan_skip
    if rc != KSFT_SKIP:
        return None
    if prog.leaves:
        last = prog.leaves[-1]
        if last.directive == "SKIP" and not last.named:
            prog.leaves.pop()
            return last.reason or "ok # SKIP"
    return "exit status 4 without a SKIP line"


def well_formed(prog):
    problems = list(prog.problems)
    n = len(prog.leaves)
    if prog.plan is None and not prog.problems:
        problems.append("no plan line (1..N)")
    if n == 0:
        problems.append("no leaf results")
    elif prog.plan is not None and prog.plan != n:
        problems.append(f"plan 1..{prog.plan} but {n} results "
                        f"({'more' if n > prog.plan else 'fewer'} than planned)")
    seen = collections.defaultdict(list)
    for leaf in prog.leaves:
        seen[leaf.name].append(str(leaf.num))
    for name, nums in seen.items():
        if len(nums) > 1:
            problems.append(f"duplicate leaf name '{name}' (results {', '.join(nums)})")
    return problems


def report_leaves(rep, name, prog_name, leaves, skips):
    for leaf in leaves:
        full = f"{name}/{leaf.name}"
        if leaf.directive == "SKIP":
            if skip_allowed(skips, prog_name, leaf.name, leaf.reason):
                rep.add(True, full, "SKIP", leaf.reason)
            else:
                rep.add(False, full, diag=[f"SKIP not allowed by ci/allowed-skips: "
                                           f"{leaf.reason or '(no reason)'}"])
        elif leaf.directive == "XFAIL":
            rep.add(True, full, "XFAIL", leaf.reason)
        elif leaf.directive in ("TODO", "XPASS"):
            rep.add(False, full, diag=[f"{leaf.directive} {leaf.reason}".rstrip() +
                                       ": a failure (the suite carries none)"])
        else:
            rep.add(leaf.ok, full)


def splats_in(text, allowed=()):
    """The splat lines of a kernel log that nothing allows, each prefixed by
    the run-tests header it follows ("before <id>: ").  A line matching an
    allowed regex is allowed; if it is a WARNING, so is its trace block,
    from the "cut here" line just above it through its "end trace" line;
    if it is a KASAN report's "BUG: KASAN:" line, so is the whole report,
    from the line of '=' above it through the next.  A "Call Trace" line is
    allowed only inside such a block."""
    lines = text.splitlines()
    blocks, reports = [], []
    for i, line in enumerate(lines):
        if not any(r.search(line) for r in allowed):
            continue
        if KASAN_RE.search(line):
            if i and KASAN_SEP_RE.match(lines[i - 1]):
                for j in range(i + 1, len(lines)):
                    if KASAN_SEP_RE.match(lines[j]):
                        reports.append((i - 1, j))
                        break
            continue
        if not WARNING_RE.search(line):
            continue
        start = i
        for j in range(i - 1, max(i - 4, -1), -1):
            if CUT_RE.search(lines[j]):
                start = j
                break
        for j in range(i + 1, len(lines)):
            if END_TRACE_RE.search(lines[j]):
                blocks.append((start, j))
                break
            if CUT_RE.search(lines[j]) or WARNING_RE.search(lines[j]):
                break   # another splat begins: this one has no end
    found, where = [], ""
    for i, line in enumerate(lines):
        if line.startswith(HEADER_PREFIX):
            where = line[len(HEADER_PREFIX):].replace("kernel log ", "") + ": "
            continue
        if not SPLAT_RE.search(line):
            continue
        if any(s <= i <= e for s, e in reports):
            continue    # inside an allowed KASAN report
        if CALL_TRACE_RE.search(line):
            ok = any(s <= i <= e for s, e in blocks)
        else:
            ok = any(r.search(line) for r in allowed)
        if not ok:
            found.append(where + line.strip())
    return found


def log_check(rep, run, label, fname, title, missing, extra=()):
    """One splat check over a run-level kernel log; missing: the diagnostic
    when the file is absent, None for no check then; extra: more problems."""
    path = os.path.join(run, fname)
    if not os.path.exists(path):
        if missing is not None:
            rep.add(False, f"{label}: {title}", diag=[f"{fname} missing: {missing}"])
        return
    splats = [f"{fname}: {s}" for s in splats_in(read(path))]
    rep.add(not splats and not extra, f"{label}: {title}", diag=[*extra, *splats[:30]])


def kernel_identity(rep, run, label, prefix, policy):
    release = read(os.path.join(run, "uname")).strip()
    build_id = read(os.path.join(run, "build_id")).strip() or "missing"
    version = read(os.path.join(run, "proc_version")).strip() or "missing"
    diag = [f"uname -r: {release or 'missing'}", f"build id: {build_id}",
            f"/proc/version: {version}"]
    # A tree of ours given as a path is labelled user-<release>: its
    # policy names what it is.
    want = LABEL_RELEASE.get(policy) or LABEL_RELEASE.get(label)
    if policy in USER_POLICIES:
        # A user's tree: the release its build wrote, exactly.
        meant = read(os.path.join(run, "kernel.release")).strip()
        ok = bool(release) and release == meant
        diag.append(f"expectations: {policy}")
        if not ok:
            diag.append(f"the tree {label} was built as '{meant or 'missing kernel.release'}'")
    elif want is None:
        ok = False
        diag.append(f"unknown kernel label '{label}' (stock, stock612, base, patched)")
    else:
        ok = bool(release) and bool(want.search(release))
        if not ok:
            diag.append(f"a {label} kernel's uname -r must match {want.pattern}")
    rep.add(ok, f"{prefix}: booted kernel matches label", diag=diag)


def guest_check(rep, run, prefix):
    """A payload boot (guest.mode "payload", ci/vm.sh) must have run from
    the payload disk with no 9p mount at all (guest.mounts: the guest's
    /proc/mounts, ci/guest/init); a 9p boot is not checked here."""
    if read(os.path.join(run, "guest.mode")).strip() != "payload":
        return
    mounts = [line.split() for line in read(os.path.join(run, "guest.mounts")).splitlines()]
    mounts = [m for m in mounts if len(m) >= 3]
    diag = [f"{m[1]} {m[2]} {m[0]}" for m in mounts if m[2] == "9p"]
    if not mounts:
        diag.append("guest.mounts missing: the guest did not record its mounts")
    elif not any(m[1] == "/host" and m[2] == "ext4" for m in mounts):
        diag.append("no ext4 root at /host (the payload disk)")
    rep.add(not diag, f"{prefix}: payload guest, no 9p mount", diag=diag)


def counters(path):
    """'name value' lines of a .pins or .sysctl file; None if it is missing."""
    text = read(path, None)
    if text is None:
        return None
    table = {}
    for line in text.splitlines():
        f = line.split(None, 1)
        if len(f) == 2:
            table[f[0]] = f[1].strip()
    return table


def pin_check(rep, name, base, label):
    before, after = counters(base + ".pins0"), counters(base + ".pins")
    problems, numbers = [], []
    if before is None or after is None:
        problems.append(f"no {os.path.basename(base)}.{'pins0' if before is None else 'pins'}")
    before, after = before or {}, after or {}

    def num(table, key):
        v = table.get(key)
        return int(v) if v is not None and re.fullmatch(r"-?\d+", v) else None

    deltas = {}
    for key in (ACQ, REL):
        b, a = num(before, key), num(after, key)
        if b is None or a is None:
            problems.append(f"{key} missing before or after "
                            f"({before.get(key, '-')} -> {after.get(key, '-')})")
        else:
            deltas[key] = a - b
            numbers.append(f"{key} {b} -> {a} ({a - b:+d})")
    if len(deltas) == 2 and deltas[ACQ] != deltas[REL]:
        problems.append(f"{deltas[ACQ]} pins acquired but {deltas[REL]} released "
                        f"during the program")
    held = num(after, HELD)
    numbers.append(f"mockdma pages_pinned {after.get(HELD, 'missing')}")
    if held is None:
        problems.append("mockdma pages_pinned missing (mockdma not loaded, or no "
                        "/sys/kernel/debug/mockdma/stats)")
    elif held:
        problems.append(f"mockdma still holds {held} pages pinned")
    # An injection hook that gave up on mockdma's slot lock (NMI context)
    # left its write undone: the program's injection verdicts are not
    # to be trusted (a reload in between resets the count).
    b, a = num(before, LOCK_BUSY), num(after, LOCK_BUSY)
    if b is not None and a is not None and a > b:
        problems.append(f"{a - b} injection hooks gave up on mockdma's slot lock "
                        f"(inject_lock_busy {b} -> {a}): their writes were not made")
    b, a = num(before, OFFLRU), num(after, OFFLRU)
    # A prefix of the series (ci/boot-series-prefixes.sh) may stop before
    # the patch that adds the gauge's counters: checked where present.
    series = label in SERIES_POLICIES and not os.environ.get("PINLAB_SERIES_PREFIX")
    if b is not None or a is not None or series:
        numbers.append(f"{OFFLRU} {before.get(OFFLRU, 'missing')} -> "
                       f"{after.get(OFFLRU, 'missing')}")
        if b is None or a is None:
            problems.append(f"{OFFLRU} missing before or after" +
                            (" (required on the patched kernel)" if series else ""))
        elif a != b:
            problems.append(f"{OFFLRU} {b} before, {a} after: long-term pinned pages left behind"
                            if a > b else f"{OFFLRU} {b} before, {a} after")
    rep.add(not problems, f"{name}: pin counters balanced",
            diag=problems + ["; ".join(numbers)] if problems else [])


def sysctl_check(rep, name, base):
    before, after = counters(base + ".sysctl0"), counters(base + ".sysctl")
    tid = os.path.basename(base)
    if before is None or after is None:
        rep.add(False, f"{name}: sysctls restored",
                diag=[f"no {tid}.{'sysctl0' if before is None else 'sysctl'}"])
        return
    restore = {}
    for line in read(base + ".restore").splitlines():
        f = line.split()
        if len(f) >= 3:
            restore[f[0]] = f
    changed, diag = [], []
    for key in list(before) + [k for k in after if k not in before]:
        b, a = before.get(key, "(absent)"), after.get(key, "(absent)")
        if b == a:
            continue
        changed.append(key)
        r = restore.get(key)
        if r and r[2] == "ok":
            how = "run-tests restored it before the next program"
        elif r:
            how = (f"run-tests could not restore it (now {r[3] if len(r) > 3 else '?'}): "
                   f"later programs ran with it changed")
        else:
            how = "not restored by run-tests: later programs ran with it changed"
        diag.append(f"{key}: {b} before, {a} after; {how}")
    if changed:
        diag.insert(0, f"left changed by the program: {' '.join(changed)}")
    rep.add(not changed, f"{name}: sysctls restored", diag=diag)


def matrix_problems(out):
    """What is wrong with a program's "# MATRIX" verdict lines: each must
    be 'table=<t> key=v ... | outcome=v ...' with at least one key and one
    outcome, and no empty value."""
    problems = []
    for line in out.splitlines():
        m = MATRIX_RE.match(line)
        if not m:
            continue
        keys, bar, outs = m.group(1).partition("|")
        kv, ov = FIELD_RE.findall(keys), FIELD_RE.findall(outs)
        why = ("no '|' between keys and outcomes" if not bar else
               "no table= key" if not any(k == "table" for k, _ in kv) else
               "no outcome" if not ov else
               "an empty value" if any(not v.strip() for _, v in kv + ov) else None)
        if why:
            problems.append(f"verdict line malformed ({why}): {line.strip()}")
    return problems


def observe_program(rep, name, prog, rc_text, skipped):
    """Observe mode: what a program did, as comments, judged neither way."""
    for leaf in prog.leaves:
        how = ("ok" if leaf.ok else "not ok") + (
            f" # {leaf.directive} {leaf.reason}".rstrip() if leaf.directive else "")
        rep.note(f"observed {name}/{leaf.name}: {how}")
    if skipped is not None:
        rep.note(f"observed {name}: skipped as a whole: {skipped}")
    if prog.bail:
        rep.note(f"observed {name}: {prog.bail}")
    n_ok = sum(1 for leaf in prog.leaves if leaf.ok and leaf.directive != "SKIP")
    n_skip = sum(1 for leaf in prog.leaves if leaf.directive == "SKIP")
    rep.note(f"observed {name}: exit status {rc_text}; {n_ok} ok, "
             f"{len(prog.leaves) - n_ok - n_skip} not ok, {n_skip} skipped")


def check_program(rep, run, label, tid, tables, prefix, policy=None, observe=False):
    expected, skips = tables
    base = os.path.join(run, "tests", tid)
    name = f"{prefix}/{tid}"
    prog_name = program_of(tid)
    rc_text = read(base + ".rc").strip()
    if not rc_text:
        why = ("not run: guest setup failed"
               if read(os.path.join(run, "setup.status")).strip() == "fail" else
               "no exit status: the VM crashed, panicked or timed out here")
        rep.add(False, f"{name}: completed", diag=[why])
        return
    out = read(base + ".out")
    prog = Program(out)
    rc = int(rc_text) if re.fullmatch(r"-?\d+", rc_text) else None
    skipped = whole_skip(prog, rc)
    if observe:
        observe_program(rep, name, prog, rc_text, skipped)
        # A hang is no outcome to observe: the program must finish.
        rep.add(rc != TIMEOUT, f"{name}: completed within TEST_TIMEOUT",
                diag=["timed out"] if rc == TIMEOUT else [])
        if skipped is None and rc != TIMEOUT:
            problems = well_formed(prog) + matrix_problems(out)
            rep.add(not problems, f"{name}: KTAP output well-formed", diag=problems)
        splat_pin_sysctl(rep, name, base, tid, expected.get(prog_name, []), policy or label)
        return
    report_leaves(rep, name, prog_name, prog.leaves, skips)
    if skipped is not None:
        if skip_allowed(skips, prog_name, None, skipped):
            rep.add(True, name, "SKIP", skipped)
        else:
            rep.add(False, name, diag=[f"SKIP not allowed by ci/allowed-skips: {skipped}"])
    else:
        problems = well_formed(prog)
        rep.add(not problems, f"{name}: KTAP output well-formed", diag=problems)
    diag = []
    if rc == TIMEOUT:
        diag.append("timed out")
    if prog.bail:
        diag.append(prog.bail)
    rep.add(rc in (KSFT_PASS, KSFT_SKIP), f"{name}: exit status {rc_text}", diag=diag)
    splat_pin_sysctl(rep, name, base, tid, expected.get(prog_name, []), policy or label)


def splat_pin_sysctl(rep, name, base, tid, allowed, policy):
    """The checks of a program that hold on any kernel: its kernel log, the
    pin counters, the knobs."""
    if os.path.exists(base + ".dmesg"):
        splats = splats_in(read(base + ".dmesg"), allowed)
        rep.add(not splats, f"{name}: no unexpected kernel splat", diag=splats[:30])
    else:
        rep.add(False, f"{name}: no unexpected kernel splat", diag=[f"no {tid}.dmesg"])
    pin_check(rep, name, base, policy)
    sysctl_check(rep, name, base)


def check_run(rep, run, tables):
    label = read(os.path.join(run, "kernel.label")).strip() or "kernel"
    # A second boot of a kernel with other parameters (kernel.profile, e.g.
    # "movable" for movablecore=): its results are named label+profile.
    profile = read(os.path.join(run, "kernel.profile")).strip()
    prefix = f"{label}+{profile}" if profile else label
    # The expectations the programs took (a user's tree: user-6.12, ...).
    policy = read(os.path.join(run, "kernel.policy")).strip() or label
    observe = os.path.exists(os.path.join(run, "kernel.observe"))
    kernel_identity(rep, run, label, prefix, policy)
    guest_check(rep, run, prefix)
    first = os.path.join(run, "console.boot1.log")
    if os.path.exists(first):
        # ci/pinlab.sh booted this kernel twice: the first boot died before
        # PID 1, running nothing of ours.  A result of its own, the first
        # console's splats in its diagnostics.
        allowed = boot_flake(read(first), label)
        rep.add(allowed is not None,
                f"{prefix}: first boot died before init: allowed by ci/allowed-boot-flakes",
                diag=[f"console.boot1.log: {s}" for s in splats_in(read(first))[:10]] +
                ([] if allowed else [f"no ci/allowed-boot-flakes entry for {label} matches"]))
    if os.environ.get("PINLAB_SERIES_PREFIX") and policy in SERIES_POLICIES:
        rep.note(f"{prefix}: series prefix {os.environ['PINLAB_SERIES_PREFIX']} "
                 f"(ci/boot-series-prefixes.sh): without the patch that adds the pin "
                 f"gauge; the gauge is checked where present, not required")
    if observe:
        rep.note(f"{prefix}: observe mode: the programs' outcomes are observations; "
                 f"asserted: boot, setup, splats, pins, sysctls, well-formed KTAP and verdicts")
    setup = read(os.path.join(run, "setup.status")).strip()
    setup_splats = splats_in(read(os.path.join(run, "setup.dmesg")))
    rep.add(setup == "ok" and not setup_splats,
            f"{prefix}: guest boots, mounts ext4+xfs, loads mockdma",
            diag=setup_splats[:20] + ([] if setup == "ok" else
                                      [f"setup status: {setup or 'missing (VM did not get there)'}"]))
    _, ids = test_ids(run)
    for tid in ids:
        check_program(rep, run, label, tid, tables, prefix, policy, observe)
    unfinished = "the guest did not finish (crash, panic, timeout or failed setup)"
    if ids:
        log_check(rep, run, prefix, "between.dmesg", "no kernel splat between programs",
                  unfinished)
    log_check(rep, run, prefix, "rdma.dmesg", "no kernel splat in RDMA setup and teardown",
              None)
    finished = END_OF_RUN in read(os.path.join(run, "final.dmesg")).splitlines()
    log_check(rep, run, prefix, "final.dmesg", "no kernel splat after the last program",
              unfinished, [] if finished else [f"no '{END_OF_RUN}' line: {unfinished}"])
    if not finished:
        console = [line for line in read(os.path.join(run, "console.log")).splitlines()
                   if not CONSOLE_USER_RE.match(line)]
        splats = splats_in("\n".join(console))
        rep.add(not splats, f"{prefix}: no kernel splat on the console",
                diag=[f"console.log: {s}" for s in splats[:30]])
    kmemleak_check(rep, run, prefix)


def stress_summary(runs, tables):
    """make stress: one line of counts per run, from the files the guest
    left and the same checks as `check` (splats: failed splat checks;
    leaked pins: failed pin checks).  Returns 1 on any splat, leaked pin or
    kmemleak object of ours, or a run without the fuzz's count."""
    status = 0
    for run in runs:
        rep = Report()
        check_run(rep, run, tables)
        failed = [m.group(1) for m in (re.match(r"not ok \d+ (.*)", l) for l in rep.lines)
                  if m]
        splats = sum(1 for n in failed if "splat" in n)
        leaked = sum(1 for n in failed if n.endswith("pin counters balanced"))
        calls = kills = unloads = 0
        errnos = ""
        for tid in test_ids(run)[1]:
            out = read(os.path.join(run, "tests", tid + ".out"))
            m = re.search(r"^# seed \d+: (\d+) calls in", out, re.M)
            if m:
                calls += int(m.group(1))
            m = re.search(r"^# errors by errno:(.*)$", out, re.M)
            if m:
                errnos = m.group(1).strip()
            for m in re.finditer(r"^# kills (\d+)", out, re.M):
                kills += int(m.group(1))
            m = re.search(r"^# kills \d+ unloads (\d+)", out, re.M)
            if m:
                unloads += int(m.group(1))
        km = kmemleak_objects(read(os.path.join(run, "kmemleak.txt")))
        ours = sum(1 for o in km if any(OURS_FRAME_RE.search(l) for l in o))
        kml = (f"{len(km)} kmemleak objects ({ours} ours)"
               if os.path.exists(os.path.join(run, "kmemleak.txt")) else "no kmemleak report")
        print(f"stress {os.path.basename(run)}: {calls} ioctls (errors by errno: "
              f"{errnos or 'none'}), {kills} kills, {unloads} unloads, {splats} splats, "
              f"{leaked} leaked pins, {kml}, {len(failed)} failed checks")
        if splats or leaked or ours or not calls or failed or \
                not os.path.exists(os.path.join(run, "kmemleak.txt")):
            status = 1
    return status


# Frames of our code in a kmemleak backtrace: the module, and the series'
# functions (patches/: dma_pin_*, folio_*dma_pin*).
OURS_FRAME_RE = re.compile(r"\[mockdma\]|\bmockdma_|\bdma_pin_|_dma_pin_")


def kmemleak_objects(text):
    """kmemleak's report as a list of objects, each its lines (the
    "unreferenced object" line, then comm/hex dump/backtrace)."""
    objs = []
    for line in text.splitlines():
        if line.startswith("unreferenced object"):
            objs.append([line])
        elif objs:
            objs[-1].append(line)
    return objs


def kmemleak_check(rep, run, prefix):
    path = os.path.join(run, "kmemleak.txt")
    if not os.path.exists(path):
        return None
    objs = kmemleak_objects(read(path))
    ours = [o for o in objs if any(OURS_FRAME_RE.search(l) for l in o)]
    diag = [f"{len(objs)} unreferenced objects, {len(ours)} with a mockdma or series frame"]
    for o in ours[:5]:
        diag += o[:20]
    if not ours:
        diag += [l for o in objs[:3] for l in o[:14]]
    rep.add(not ours, f"{prefix}: kmemleak: no object leaked by mockdma or the series",
            diag=diag if objs else [])
    return len(objs), len(ours)


def host_results(rep, path):
    """Host-side checks (builds, checkpatch, sparse) written by ci/pinlab.sh
    as 'ok <name>' / 'not ok <name>' lines, '# ' diagnostics before each."""
    diag = []
    for line in read(path).splitlines():
        if line.startswith("# "):
            diag.append(line[2:])
        elif line.startswith(("ok ", "not ok ")):
            ok = line.startswith("ok ")
            rep.add(ok, "host/" + line.split(" ", 1 if ok else 2)[-1], diag=diag)
            diag = []


MATRIX_RE = re.compile(r"^#\s*MATRIX\s+(.*)$")
# key=value fields; a value runs to the next " key=" and may hold spaces
# ("TORN (16)", "DATA LOSS (16), WARN: ...").
FIELD_RE = re.compile(r"(\w+)=(.*?)(?=\s+\w+=|\s*$)")


def matrix_lines(runs):
    """Every '# MATRIX <keys> | <outcomes>' line of the runs, in order, as
    (kernel label, test id, [(key, value)...], [(outcome, value)...])."""
    for run in runs:
        label = read(os.path.join(run, "kernel.label")).strip() or "kernel"
        tdir, ids = test_ids(run)
        for tid in ids:
            for line in read(os.path.join(tdir, tid + ".out")).splitlines():
                m = MATRIX_RE.match(line)
                if not m:
                    continue
                keys, _, outs = m.group(1).partition("|")
                yield label, tid, FIELD_RE.findall(keys), FIELD_RE.findall(outs)


def matrix(runs):
    """Collect '# MATRIX table=<t> key=v ... | out=v ...' lines into one
    Markdown table per <t>: rows are the key fields, and each outcome gets a
    column per kernel, side by side ("stock: result | base: result |
    patched: result"), kernels in the order the runs were given."""
    tables = {}
    order = []
    for label, tid, kv, ov in matrix_lines(runs):
        if label not in order:
            order.append(label)
        kd = dict(kv)
        table = kd.pop("table", program_of(tid))
        t = tables.setdefault(table, {"keys": [], "outs": [], "rows": {}, "kernels": set()})
        for k, _ in kv:
            if k != "table" and k not in t["keys"]:
                t["keys"].append(k)
        for k, _ in ov:
            if k not in t["outs"]:
                t["outs"].append(k)
        t["kernels"].add(label)
        row = tuple(kd.get(k, "") for k in t["keys"])
        t["rows"].setdefault(row, {})[label] = dict(ov)
    out = []
    # The hazard catalogue opens the report, its rows in catalogue order
    # (H1, H2, ..., H10: by the number after the H); the rest as seen.
    for name in sorted(tables, key=lambda name: name != "hazards"):
        t = tables[name]
        if name == "hazards" and "id" in t["keys"]:
            col = t["keys"].index("id")
            t["rows"] = dict(sorted(t["rows"].items(), key=lambda kv: int(
                re.sub(r"\D", "", kv[0][col]) or 0)))
        kernels = [k for k in order if k in t["kernels"]]
        out.append(f"### {name}\n")
        head = list(t["keys"])
        for o in t["outs"]:
            head += [f"{k}: {o}" for k in kernels]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for row, per_kernel in t["rows"].items():
            cells = list(row)
            for o in t["outs"]:
                cells += [per_kernel.get(k, {}).get(o, "") for k in kernels]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


INTRO = """\
# pinlab results

When a device pins user memory with `pin_user_pages(FOLL_LONGTERM)` and
writes into it by DMA, the page cache does not know: writeback cleans pages
the device still writes, fsync reports success without the device's bytes,
and a filesystem's own rules (reflink sharing, freeze, holes) are bypassed.
pinlab reproduces each objection raised against long-term pinning of
file-backed memory as a deterministic scenario, and judges it by the bytes
on the block device, on Debian's stock 6.1, on the same source built with
our config (base), and on that build with the pin-off-LRU series (patched).
"""


def one_word(outcome):
    """The verdict word of an outcome cell: 'CORRUPTED (clone ...)' -> CORRUPTED."""
    word = outcome.split(" ", 1)[0].strip(",;:") if outcome else ""
    return word or "-"


def report(runs, out_dir=None):
    """report.md: the introduction, the hazard table in one word per
    kernel, the benchmarks' goal lines and figures, the whole matrix, and
    the run's identity."""
    import benchreport
    out = [INTRO]
    labels, rows = [], {}
    for run in runs:
        label = read(os.path.join(run, "kernel.label")).strip() or "kernel"
        if label not in labels:
            labels.append(label)
    for label, _, kv, ov in matrix_lines(runs):
        kd, od = dict(kv), dict(ov)
        if kd.get("table") != "hazards":
            continue
        row = (kd.get("id", "?"), kd.get("hazard", "?"), kd.get("case", "?"))
        rows.setdefault(row, {})[label] = one_word(od.get("outcome", ""))
    if rows:
        out += ["## The hazard catalogue, one word per kernel\n",
                "Full outcomes in the first table below; each hazard's "
                "program (`userspace/hazards/hazard_*.c`) says what it does and why "
                "each kernel gives its outcome.\n",
                "| id | hazard | case | " + " | ".join(labels) + " |",
                "|" + "---|" * (3 + len(labels))]
        for row in sorted(rows, key=lambda r: int(re.sub(r"\D", "", r[0]) or 0)):
            out.append("| " + " | ".join(row) + " | " +
                       " | ".join(rows[row].get(k, "") for k in labels) + " |")
        out.append("")
    out.append(benchreport.report_section(out_dir))
    table = matrix(runs)
    if table:
        out += ["## Every table\n", table]
    out.append(benchreport.identity_md(out_dir, runs))
    return "\n".join(out)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["check", "matrix", "report", "bench", "compare", "stress",
                                     "boot-flake"])
    ap.add_argument("--host", action="append", default=[])
    ap.add_argument("--out", help="the run's result directory (report, bench)")
    ap.add_argument("--threshold", type=float, default=0.10,
                    help="compare: relative change of a benchmark number shown")
    ap.add_argument("--expected-splats", default=os.path.join(root, "ci", "expected-splats"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--allowed-skips", default=os.path.join(root, "ci", "allowed-skips"),
                    help=argparse.SUPPRESS)
    # check takes none when no kernel could be booted (its host checks say why).
    # (intermixed: a "*" positional would otherwise match empty before the options)
    ap.add_argument("runs", nargs="*")
    args = ap.parse_intermixed_args()
    if not args.runs and args.mode != "check":
        ap.error(f"{args.mode} needs at least one run directory")
    if args.mode == "matrix":
        print(matrix(args.runs))
        return 0
    if args.mode == "report":
        print(report(args.runs, args.out))
        return 0
    if args.mode == "boot-flake":
        # ci/pinlab.sh: may this run's dead first boot be retried?
        run = args.runs[0]
        line = boot_flake(read(os.path.join(run, "console.log")),
                          read(os.path.join(run, "kernel.label")).strip())
        if line:
            print(line)
        return 0 if line else 1
    errors = []
    tables = (expected_splats(args.expected_splats, errors),
              allowed_skips(args.allowed_skips, errors))
    if args.mode in ("bench", "compare"):
        import benchreport
        if args.mode == "compare":
            if len(args.runs) != 2:
                ap.error("compare takes two result directories")
            return benchreport.compare(*args.runs, os.environ.get(
                "PINLAB_RESULTS", os.path.join(root, "results")), args.threshold)
        if not args.out:
            ap.error("bench needs --out DIR")
        status = benchreport.bench(args.runs, args.out, tables)
        with open(os.path.join(args.out, "report.md"), "w") as f:
            f.write(report(args.runs, args.out) + "\n")
        return status
    if args.mode == "stress":
        return stress_summary(args.runs, tables)
    rep = Report()
    for h in args.host:
        host_results(rep, h)
    for e in errors:
        rep.add(False, "report: configuration line valid", diag=[e])
    for run in args.runs:
        check_run(rep, run, tables)
    return rep.emit()


if __name__ == "__main__":
    sys.exit(main())
