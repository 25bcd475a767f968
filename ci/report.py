#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn pinlab run directories into KTAP, a verdict and the results matrix.

A run directory is what one VM boot left (see ci/guest/run-tests): per test
run <id>.out (the program's KTAP), <id>.rc, <id>.dmesg, <id>.pins, plus
console.log and setup.dmesg, and kernel.label written by the host.

  report.py check [--host FILE] RUN_DIR...   KTAP on stdout; exit 1 on failure
  report.py matrix RUN_DIR...                Markdown matrix on stdout

Every leaf result of every program becomes one top-level KTAP line
("<kernel>/<test>/<leaf>"), and the harness adds three checks per test run:
its exit status, a clean kernel log, and balanced pin counters.  The last
line is "N passed, N failed, N skipped".
"""
import argparse
import os
import re
import sys

RESULT_RE = re.compile(
    r"^(?P<not>not )?ok (?P<num>\d+)\s*(?:-\s*)?(?P<desc>.*?)"
    r"(?:\s+#\s*(?P<directive>SKIP|XFAIL|XPASS|TODO|skip)\b\s*(?P<reason>.*))?$")
PLAN_RE = re.compile(r"^1\.\.(\d+)\s*$")

# Kernel log lines that mean something went wrong in the kernel.  ext4's
# warnings go through ext4_warning(), not WARN(), so "WARNING:" misses them.
SPLAT_RE = re.compile(
    r"kernel BUG at|BUG:|WARNING:|Oops|Internal error|general protection fault"
    r"|KASAN:|UBSAN:|Kernel panic|unreferenced object|Call Trace"
    r"|possible circular locking|possible recursive locking"
    r"|suspicious RCU usage|blocked for more than|soft lockup|hard LOCKUP"
    r"|does not have buffers attached|EXT4-fs warning|EXT4-fs error"
    r"|XFS .*: (?:Corruption|Internal error|metadata I/O error)"
    r"|XFS: Assertion failed|I/O error")

# How the exit status of a kselftest program reads (kselftest/runner.sh).
KSFT_PASS, KSFT_FAIL, KSFT_SKIP, TIMEOUT = 0, 1, 4, 124


def read(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def expected_splats(root):
    """ci/expected-splats: '<test> <regex>' lines; a kernel message that a
    scenario provokes on purpose is allowed for that test only."""
    table = {}
    for line in read(os.path.join(root, "ci", "expected-splats")).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        test, regex = line.split(None, 1)
        table.setdefault(test, []).append(re.compile(regex))
    return table


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


def parse_program(out):
    """Leaf results and plan of one kselftest program's output."""
    plan, leaves = None, []
    for line in out.splitlines():
        m = PLAN_RE.match(line)
        if m and plan is None:
            plan = int(m.group(1))
            continue
        m = RESULT_RE.match(line)
        if m:
            directive = (m.group("directive") or "").upper() or None
            leaves.append((m.group("not") is None, m.group("desc").strip(),
                           directive, (m.group("reason") or "").strip()))
    return plan, leaves


def splats_in(text, allowed):
    found = []
    for line in text.splitlines():
        if SPLAT_RE.search(line) and not any(r.search(line) for r in allowed):
            found.append(line.strip())
    return found


def check_run(rep, run, root, allowed_table):
    label = read(os.path.join(run, "kernel.label")).strip() or "kernel"
    setup = read(os.path.join(run, "setup.status")).strip()
    setup_splats = splats_in(read(os.path.join(run, "setup.dmesg")), [])
    rep.add(setup == "ok" and not setup_splats, f"{label}: guest boots, mounts ext4+xfs, loads mockdma",
            diag=setup_splats[:20] + ([] if setup == "ok" else
                                      [f"setup status: {setup or 'missing (VM did not get there)'}"]))
    tdir, ids = test_ids(run)
    for tid in ids:
        base = os.path.join(tdir, tid)
        name = f"{label}/{tid}"
        rc_text = read(base + ".rc").strip()
        if not rc_text:
            rep.add(False, f"{name}: completed",
                    diag=["no exit status: the VM crashed, panicked or timed out here",
                          *[l for l in read(os.path.join(run, "console.log")).splitlines()
                            if SPLAT_RE.search(l)][:20]])
            continue
        rc = int(rc_text)
        out = read(base + ".out")
        plan, leaves = parse_program(out)
        for ok, desc, directive, reason in leaves:
            rep.add(ok or directive == "XFAIL", f"{name}/{desc}", directive, reason)
        missing = (plan or 0) - len(leaves)
        if rc == KSFT_SKIP and not leaves:
            reason = next((l for l in out.splitlines() if "SKIP" in l), "skipped")
            rep.add(True, f"{name}", "SKIP", reason.lstrip("# ").strip())
        else:
            diag = []
            if missing > 0:
                diag.append(f"plan 1..{plan} but only {len(leaves)} results")
            if rc == TIMEOUT:
                diag.append("timed out")
            ok_rc = rc in (KSFT_PASS, KSFT_SKIP) and missing <= 0
            rep.add(ok_rc, f"{name}: exit status {rc}", diag=diag)
        allowed = allowed_table.get(tid.split(".r")[0], [])
        splats = splats_in(read(base + ".dmesg"), allowed)
        rep.add(not splats, f"{name}: no unexpected kernel splat", diag=splats[:30])
        pins = dict(l.split() for l in read(base + ".pins").splitlines() if len(l.split()) == 2)
        acq = pins.get("nr_foll_pin_acquired")
        rel = pins.get("nr_foll_pin_released")
        held = pins.get("mockdma_pages_pinned", "0")
        balanced = acq is not None and acq == rel and held == "0"
        rep.add(balanced, f"{name}: pin counters balanced",
                diag=[] if balanced else [f"nr_foll_pin_acquired={acq} nr_foll_pin_released={rel} "
                                          f"mockdma pages_pinned={held}"])


def host_results(rep, path):
    """Host-side checks (builds, checkpatch, sparse) written by ci/check.sh
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


def matrix(runs):
    """Collect '# MATRIX table=<t> key=v ... | out=v ...' lines into one
    Markdown table per <t>: rows are the key fields, and each outcome gets a
    column per kernel, side by side ("stock: result | patched: result")."""
    tables = {}
    for run in runs:
        label = read(os.path.join(run, "kernel.label")).strip() or "kernel"
        tdir, ids = test_ids(run)
        for tid in ids:
            for line in read(os.path.join(tdir, tid + ".out")).splitlines():
                m = MATRIX_RE.match(line)
                if not m:
                    continue
                body = m.group(1)
                keys, _, outs = body.partition("|")
                kv = FIELD_RE.findall(keys)
                ov = FIELD_RE.findall(outs)
                kd = dict(kv)
                table = kd.pop("table", tid.split(".r")[0])
                t = tables.setdefault(table, {"keys": [], "outs": [], "rows": {}, "kernels": []})
                for k, _ in kv:
                    if k != "table" and k not in t["keys"]:
                        t["keys"].append(k)
                for k, _ in ov:
                    if k not in t["outs"]:
                        t["outs"].append(k)
                if label not in t["kernels"]:
                    t["kernels"].append(label)
                row = tuple(kd.get(k, "") for k in t["keys"])
                t["rows"].setdefault(row, {})[label] = dict(ov)
    out = []
    for name, t in tables.items():
        out.append(f"### {name}\n")
        head = list(t["keys"])
        for o in t["outs"]:
            head += [f"{k}: {o}" for k in t["kernels"]]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for row, per_kernel in t["rows"].items():
            cells = list(row)
            for o in t["outs"]:
                cells += [per_kernel.get(k, {}).get(o, "") for k in t["kernels"]]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["check", "matrix"])
    ap.add_argument("--host", action="append", default=[])
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if args.mode == "matrix":
        print(matrix(args.runs))
        return 0
    rep = Report()
    for h in args.host:
        host_results(rep, h)
    allowed = expected_splats(root)
    for run in args.runs:
        check_run(rep, run, root, allowed)
    return rep.emit()


if __name__ == "__main__":
    sys.exit(main())
