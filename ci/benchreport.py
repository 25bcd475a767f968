#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The benchmarks' report: tables, bench.json, plots, goal lines, compare.

Used by ci/report.py (modes bench and compare; report's plots and goal
lines).  The benchmark programs (userspace/bench/) print one line per cell

  # BENCH table=<t> <key>=<v>... | <metric>=<v>...

and KTAP results that are their sanity checks.  A program's lines are
trusted only if every result ci/report.py's check gives that program run
passed (leaves, exit status, splats, pins balanced, sysctls restored);
the cells of an untrusted program are left out and named, its goal says
FAILED, and the exit status is 1: a number the run cannot vouch for is
never printed.

Ratios are only ever formed between two numbers of the same boot (one
kernel label); absolute times under TCG mean nothing.  One line per goal
at column 0, "P<n> <name> ratio=<r> goal<op><g> met|not met (...)", or
"... not applicable (<why>)", or "... FAILED (<why>)".
"""
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess

import report as R

BENCH_RE = re.compile(r"^#\s*BENCH\s+(.*)$")
# Kernels in the order a reader compares them.
KERNEL_ORDER = ["stock", "base", "patched"]
# Series tables feed the plots; the printed tables leave them out.
SERIES_TABLES = ("wb-series", "pgscan-series")


def number(v):
    try:
        return float(v)
    except ValueError:
        return v


def label_of(run):
    label = R.read(os.path.join(run, "kernel.label")).strip() or "kernel"
    profile = R.read(os.path.join(run, "kernel.profile")).strip()
    return f"{label}+{profile}" if profile else label


def collect(runs, tables):
    """(cells, untrusted): every BENCH line of a program run whose checks
    all passed, as dicts; and {"<kernel>/<test>": [failed checks]}."""
    cells, untrusted = [], {}
    for run in runs:
        label = label_of(run)
        # ci/vm.sh VM_ICOUNT: the guest's ns were its instructions.
        icount = os.path.exists(os.path.join(run, "vm.icount"))
        tdir, ids = R.test_ids(run)
        for tid in ids:
            rep = R.Report()
            R.check_program(rep, run, label.split("+")[0], tid, tables, label)
            failed = [line.split(" ", 3)[-1] for line in rep.lines
                      if line.startswith("not ok ")]
            skipped = rep.counts["skip"]
            if failed or skipped or not rep.results:
                untrusted[f"{label}/{tid}"] = failed or ["skipped"]
                continue
            for line in R.read(os.path.join(tdir, tid + ".out")).splitlines():
                m = BENCH_RE.match(line)
                if not m:
                    continue
                keys, _, outs = m.group(1).partition("|")
                kd = dict(R.FIELD_RE.findall(keys))
                table = kd.pop("table", R.program_of(tid))
                cells.append({"kernel": label, "program": R.program_of(tid),
                              "table": table, "keys": kd, "icount": icount,
                              "metrics": {k: number(v) for k, v in
                                          R.FIELD_RE.findall(outs)}})
    return cells, untrusted


def kernels_of(cells):
    seen = {c["kernel"] for c in cells}
    return [k for k in KERNEL_ORDER if k in seen] + sorted(seen - set(KERNEL_ORDER))


def pick(cells, table, kernel=None, **keys):
    return [c for c in cells if c["table"] == table and
            (kernel is None or c["kernel"] == kernel) and
            all(c["keys"].get(k) == v for k, v in keys.items())]


def fmt(x, digits=3):
    """Three significant digits, never an exponent."""
    if isinstance(x, (int, float)):
        if x == int(x) and abs(x) < 1e15:
            return str(int(x))
        if abs(x) >= 10 ** digits:
            return f"{x:.0f}"
        return f"{x:.{digits}g}"
    return str(x)


def cell_value(metrics, m):
    """'median (min-max)' when the metric has a spread, else the value."""
    v = metrics[m]
    if f"{m}_min" in metrics and f"{m}_max" in metrics:
        return f"{fmt(v)} ({fmt(metrics[m + '_min'])}-{fmt(metrics[m + '_max'])})"
    return fmt(v)


def tables_md(cells):
    """One Markdown table per benchmark table (the series left out)."""
    out = []
    names = []
    for c in cells:
        if c["table"] not in names and c["table"] not in SERIES_TABLES:
            names.append(c["table"])
    for name in names:
        rows = [c for c in cells if c["table"] == name]
        keys, metrics = [], []
        for c in rows:
            keys += [k for k in c["keys"] if k not in keys]
            metrics += [m for m in c["metrics"] if m not in metrics and
                        not m.endswith(("_min", "_max"))]
        order = {k: i for i, k in enumerate(kernels_of(rows))}
        rows.sort(key=lambda c: order[c["kernel"]])
        out.append(f"### {name}\n")
        out.append("| kernel | " + " | ".join(keys + metrics) + " |")
        out.append("|" + "---|" * (1 + len(keys) + len(metrics)))
        for c in rows:
            out.append("| " + " | ".join(
                [c["kernel"]] + [c["keys"].get(k, "") for k in keys] +
                [cell_value(c["metrics"], m) if m in c["metrics"] else ""
                 for m in metrics]) + " |")
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------- goals

def judged_kernel(cells, table, want=None):
    """The kernel a series goal is judged on: patched if it ran, else the
    most patched-like one present (base, then stock), with a note."""
    ks = [k for k in kernels_of(pick(cells, table)) if want is None or want(k)]
    for k in ("patched", "base", "stock"):
        if k in ks:
            return k
    return ks[0] if ks else None


def goal_line(pid, name, value, op, goal, detail, key="ratio"):
    met = value >= goal if op == ">=" else value <= goal if op == "<=" else value == goal
    return (f"{pid} {name} {key}={fmt(value)} goal{op}{fmt(goal)} "
            f"{'met' if met else 'not met'} ({detail})")


def failed_for(untrusted, program):
    return sorted(k for k in untrusted if k.split("/", 1)[1].split(".r")[0] == program)


def goal_p1(cells, untrusted):
    bad = failed_for(untrusted, "pin_bench")
    if bad:
        return [f"P1 pin-cost FAILED (sanity checks failed: {', '.join(bad)})"]
    per_kernel, worst, by_batch = {}, {}, {}
    for k in kernels_of(pick(cells, "pin-cost")):
        ratios = []
        for c in pick(cells, "pin-cost", k):
            meth = c["keys"].get("method", "")
            # parking on (patched, switch 1) would add the series' cost to
            # both sides: P1 compares the pinners with it off
            if not meth.startswith("gup_test-") or c["keys"].get("dma_pin_lru") == "1":
                continue
            kd = dict(c["keys"], method=meth.replace("gup_test-", "mockdma-"))
            m = pick(cells, "pin-cost", k, **kd)
            if m:
                # rate ratio: mockdma's pages/s over gup_test's
                r = c["metrics"]["ns_per_page"] / m[0]["metrics"]["ns_per_page"]
                ratios.append((r, kd))
        if ratios:
            per_kernel[k] = statistics.median(r for r, _ in ratios)
            worst[k] = min(ratios, key=lambda x: x[0])
            groups = {}
            for r, kd in ratios:
                groups.setdefault((int(kd.get("gup_call", kd.get("batch", 0))), kd["method"].split("-")[-1]), []).append(r)
            by_batch[k] = ", ".join(f"GUP calls of {b} {m} {fmt(statistics.median(v))}"
                                    for (b, m), v in sorted(groups.items()))
    if not pick(cells, "pin-cost"):
        return ["P1 pin-cost not applicable (pin_bench did not run)"]
    if not per_kernel:
        ks = kernels_of(pick(cells, "pin-cost"))
        return ["P1 pin-cost not applicable (no gup_test: CONFIG_GUP_TEST is off on "
                f"{', '.join(ks) or 'every kernel run'}; base and patched have it)"]
    low = min(per_kernel, key=per_kernel.get)
    detail = "; ".join(
        f"{k}: median of {sum(1 for c in pick(cells, 'pin-cost', k) if c['keys'].get('method', '').startswith('gup_test-') and c['keys'].get('dma_pin_lru') != '1')} cells "
        f"{fmt(v)} ({by_batch[k]}), worst {fmt(worst[k][0])} at {worst[k][1].get('mem')}/{worst[k][1].get('page')}/"
        f"{worst[k][1].get('size_mib')}MiB/GUP calls of {worst[k][1].get('gup_call')}/{worst[k][1].get('method')}"
        for k, v in per_kernel.items())
    no_gup = [k for k in kernels_of(pick(cells, "pin-cost")) if k not in per_kernel]
    if no_gup:
        detail += f"; no gup_test on {', '.join(no_gup)}"
    return [goal_line("P1", "pin-cost", per_kernel[low], ">=", 0.95,
                      "mockdma rate / gup_test rate, same buffer and boot; " + detail)]


def goal_p2(cells, untrusted):
    bad = failed_for(untrusted, "pin_bench")
    if bad:
        return [f"P2 park-cost FAILED (sanity checks failed: {', '.join(bad)})"]
    ks = [k for k in kernels_of(pick(cells, "pin-cost"))
          if any(c["keys"].get("dma_pin_lru") == "0" for c in pick(cells, "pin-cost", k))]
    if not ks:
        return ["P2 park-cost not applicable (no series)"]
    out = []
    k = "patched" if "patched" in ks else ks[0]
    for name, sel, goal in (("park-cost", lambda c: c["keys"].get("page") == "4k" and
                             c["keys"].get("mem") in ("ext4-shared", "xfs-shared"), 1.3),
                            ("park-cost-thp", lambda c: c["keys"].get("page") == "thp", 1.1)):
        ratios = []
        for c in pick(cells, "pin-cost", k, dma_pin_lru="1"):
            if not sel(c) or "longterm" not in c["keys"].get("method", ""):
                continue
            off = pick(cells, "pin-cost", k, **dict(c["keys"], dma_pin_lru="0"))
            if off:
                ratios.append(c["metrics"]["ns_per_page"] / off[0]["metrics"]["ns_per_page"])
        if ratios:
            out.append(goal_line("P2", name, statistics.median(ratios), "<=", goal,
                                 f"{k}: long-term pin+unpin ns/page, dma_pin_lru=1 / 0, "
                                 f"median of {len(ratios)} cells, same boot"))
        else:
            out.append(f"P2 {name} not applicable (no such cells on {k})")
    # Off against base: across two boots, so each normalised by an anchor
    # of its own boot that parking does not touch (short-term fast pins).
    # Booted off (patched+off: no dma_pin_lru=on, no page_ext, the static
    # key never enabled) is what "off" means for a user; the switch at 0 in
    # a boot with the parameter is an upper bound (page_ext is there).
    if "base" in kernels_of(pick(cells, "pin-cost")) and k != "base":
        for name, kk, sw, what in (
                ("park-off-vs-base", "patched+off", "-", "patched booted without dma_pin_lru=on"),
                ("park-switch0-vs-base", k, "0", f"{k} booted on, vm.dma_pin_lru=0")):
            ratios = []
            for c in pick(cells, "pin-cost", kk, dma_pin_lru=sw, method="mockdma-longterm"):
                kd = {x: v for x, v in c["keys"].items() if x != "dma_pin_lru"}
                a = pick(cells, "pin-cost", kk, **dict(c["keys"], method="mockdma-fast"))
                b = pick(cells, "pin-cost", "base", **kd)
                bf = pick(cells, "pin-cost", "base", **dict(kd, method="mockdma-fast"))
                if a and b and bf:
                    ratios.append((c["metrics"]["ns_per_page"] / a[0]["metrics"]["ns_per_page"]) /
                                  (b[0]["metrics"]["ns_per_page"] / bf[0]["metrics"]["ns_per_page"]))
            if ratios:
                r = statistics.median(ratios)
                out.append(f"P2 {name} ratio={fmt(r)} goal=1±0.03 "
                           f"{'met' if abs(r - 1) <= 0.03 else 'not met'} ({what} vs base, "
                           f"long-term pin+unpin, each over its own boot's short-term "
                           f"mockdma-fast pin, median of {len(ratios)} cells)")
            elif kk == "patched+off":
                out.append(f"P2 {name} not applicable (no {kk} boot)")
    out += p2_off_instructions(cells)
    return out


def p2_off_instructions(cells):
    """Booted off against base where both boots counted instructions
    (make bench BENCH_ICOUNT=1): a guest ns is one instruction, interrupts
    included, so the two boots compare directly, cell by cell, without an
    anchor.  Each cell's fastest round (a timer tick, a few million
    instructions, lands in some rounds and not others); long-term and
    short-term pins apart (the series hooks both); the ratio and the
    difference in instructions per page."""
    off = pick(cells, "pin-cost", "patched+off")
    base = pick(cells, "pin-cost", "base")
    if not off or not base or not all(c["icount"] for c in off + base):
        return []
    out = []
    for name, longterm in (("park-off-vs-base-insns", True),
                           ("park-off-vs-base-insns-fast", False)):
        ratios, diffs = [], []
        for c in off:
            if ("longterm" in c["keys"].get("method", "")) != longterm:
                continue
            b = pick(cells, "pin-cost", "base", **c["keys"])
            if b:
                o, bb = (x["metrics"].get("ns_per_page_min", x["metrics"]["ns_per_page"])
                         for x in (c, b[0]))
                ratios.append(o / bb)
                diffs.append(o - bb)
        if ratios:
            r = statistics.median(ratios)
            kind = "long-term" if longterm else "short-term"
            # Four decimals: the point is how close to 1.
            out.append(f"P2 {name} ratio={r:.4f} goal=1±0.03 "
                       f"{'met' if abs(r - 1) <= 0.03 else 'not met'} (patched booted "
                       f"without dma_pin_lru=on vs base, {kind} pin+unpin, guest virtual "
                       f"ns per page under -icount shift=0 (instructions, interrupts "
                       f"included; TCG, 1 vCPU), each cell's fastest round, median of "
                       f"{len(ratios)} cells, min {min(ratios):.4f}, max {max(ratios):.4f}; "
                       f"difference {statistics.median(diffs):+.1f} instructions per page, "
                       f"min {min(diffs):+.1f}, max {max(diffs):+.1f})")
    return out


def goal_p3(cells, untrusted):
    out = []
    bad = failed_for(untrusted, "wb_bench")
    vols = pick(cells, "wb-volume")
    if bad:
        out.append(f"P3 wb-volume FAILED (sanity checks failed: {', '.join(bad)})")
    elif not vols:
        out.append("P3 wb-volume not applicable (wb_bench did not run)")
    else:
        k = judged_kernel(cells, "wb-volume")
        worst, where = 0.0, ""
        for c in pick(cells, "wb-volume", k):
            m = c["metrics"]
            # the range written at most once per expiry interval (30 s)
            allowed = max(1, m["window_s"] // 30) * m["range_bytes"]
            for what, v, lim in (("window", m["bytes_in_window"], allowed),
                                 ("fsync", m["bytes_per_fsync"], m["range_bytes"])):
                if v / lim >= worst:
                    worst, where = v / lim, f"{c['keys']['case']} {c['keys']['size_mib']} MiB {what}"
        others = "; ".join(
            f"{o}: worst {fmt(max(max(c['metrics']['bytes_in_window'] / (max(1, c['metrics']['window_s'] // 30) * c['metrics']['range_bytes']), c['metrics']['bytes_per_fsync'] / c['metrics']['range_bytes']) for c in pick(cells, 'wb-volume', o)))}"
            for o in kernels_of(vols) if o != k)
        out.append(goal_line("P3", "wb-volume", worst, "<=", 1.0,
                             f"on {k}: bytes written / the range, per 30 s dirty_expire "
                             f"and per fsync, worst case {where}" +
                             (f"; {others}" if others else "")))
    bad = failed_for(untrusted, "reclaim_bench")
    scans = pick(cells, "reclaim-scanned")
    if bad:
        out.append(f"P3 reclaim FAILED (sanity checks failed: {', '.join(bad)})")
    elif not scans:
        out.append("P3 reclaim not applicable (reclaim_bench did not run)")
    else:
        k = judged_kernel(cells, "reclaim-scanned")
        n = pick(cells, "reclaim-scanned", k)[0]["metrics"]
        others = "; ".join(f"{o}: {fmt(pick(cells, 'reclaim-scanned', o)[0]['metrics']['pinned_scanned'])}"
                           for o in kernels_of(scans) if o != k)
        out.append(goal_line("P3", "reclaim-scanned", n["pinned_scanned"], "==", 0,
                             f"on {k}: pinned folios reclaim examined, of {fmt(n['armed'])} "
                             f"armed" + (f"; {others}" if others else ""), key="count"))
        thr = {}
        for o in kernels_of(pick(cells, "reclaim")):
            p = pick(cells, "reclaim", o, phase="pinned")
            u = pick(cells, "reclaim", o, phase="unpinned")
            if p and u and u[0]["metrics"]["corunner_mib_per_s"]:
                thr[o] = p[0]["metrics"]["corunner_mib_per_s"] / u[0]["metrics"]["corunner_mib_per_s"]
        if thr:
            detail = ", ".join(f"{o} {fmt(v)}" for o, v in thr.items())
            if "patched" in thr and "base" in thr:
                out.append(goal_line("P3", "corunner", thr["patched"] / thr["base"], ">=", 1.0,
                                     f"co-runner MiB/s with the pins / without, same boot: {detail}"))
            else:
                out.append(f"P3 corunner ratio={fmt(min(thr.values()))} goal: patched>=base "
                           f"not judged (needs patched and base; co-runner MiB/s with the "
                           f"pins / without, same boot: {detail})")
    return out


def dma_bw_ratios(cells, num, den):
    """Per kernel, the median over dma-bw cells of MB/s of method @num
    over MB/s of method @den on the same buffer, size and boot."""
    per = {}
    for k in kernels_of(pick(cells, "dma-bw")):
        rs = []
        for c in pick(cells, "dma-bw", k, method=num):
            d = pick(cells, "dma-bw", k, **dict(c["keys"], method=den))
            if d:
                rs.append(c["metrics"]["mb_per_s"] / d[0]["metrics"]["mb_per_s"])
        if rs:
            per[k] = statistics.median(rs)
    return per


def goal_p4(cells, untrusted):
    bad = failed_for(untrusted, "dma_bench")
    if bad:
        return [f"P4 dma-bandwidth FAILED (sanity checks failed: {', '.join(bad)})"]
    per = dma_bw_ratios(cells, "dma-write", "memcpy")
    if not per:
        return ["P4 dma-bandwidth not applicable (dma_bench did not run)"]
    low = min(per, key=per.get)
    out = [goal_line("P4", "dma-bandwidth", per[low], ">=", 0.8,
                     "DMA_WRITE MB/s / in-kernel memcpy MB/s, same size and boot, median "
                     "over cells: " + ", ".join(f"{k} {fmt(v)}" for k, v in per.items()))]
    # Context, no goal: an RDMA WRITE over rxe of the same bytes.
    rxe = dma_bw_ratios(cells, "rxe-write", "dma-write")
    if rxe:
        out.append("P4 rxe-context (no goal) rxe RDMA WRITE MB/s / DMA_WRITE MB/s, same size, "
                   "buffer and boot, median over cells: " +
                   ", ".join(f"{k} {fmt(v)}" for k, v in rxe.items()))
    return out


def goal_p5(cells, untrusted):
    bad = failed_for(untrusted, "race_bench")
    if bad:
        return [f"P5 race-timing FAILED (sanity checks failed: {', '.join(bad)})"]
    rows = pick(cells, "race-timing")
    if not rows:
        return ["P5 race-timing not applicable (race_bench did not run)"]
    # The series makes the reclaim window unreachable by design: not a miss.
    judged = [c for c in rows if not (c["kernel"] == "patched" and c["keys"]["point"].startswith("reclaim"))]
    hits = sum(c["metrics"]["hits"] for c in judged)
    reps = sum(c["metrics"]["repeats"] for c in judged)
    slow = max(judged, key=lambda c: c["metrics"]["ms_max"])
    pct = 100.0 * hits / reps if reps else 0
    met = hits == reps and slow["metrics"]["ms_max"] <= 1000
    return [f"P5 race-timing hit={fmt(pct)}% max_ms={fmt(slow['metrics']['ms_max'])} "
            f"goal=100%,<=1000ms {'met' if met else 'not met'} ({fmt(hits)} of {fmt(reps)} repeats "
            f"over {len(judged)} scenario cells on {', '.join(kernels_of(rows))}; slowest "
            f"{slow['kernel']} {slow['keys']['point']} {slow['keys']['fs']}, "
            f"{fmt(slow['metrics']['attempts_max'])} attempts at most)"]


def goal_memory(cells, untrusted):
    bad = failed_for(untrusted, "mem_bench")
    if bad:
        return [f"Memory FAILED (sanity checks failed: {', '.join(bad)})"]
    parts = []
    for k in kernels_of(pick(cells, "memory")):
        pe = pick(cells, "memory", k, item="page_ext")
        slab = pick(cells, "memory", k, item="slab-per-pinned-page")
        bits = []
        if pe:
            bits.append(f"page_ext {fmt(pe[0]['metrics']['bytes_per_page'])} B/page")
        for s in slab:
            sw = s["keys"].get("dma_pin_lru", "-")
            bits.append(f"slab {fmt(s['metrics']['bytes'])} B/pinned page" +
                        (f" (dma_pin_lru={sw})" if sw != "-" else ""))
        parts.append(f"{k}: {', '.join(bits)}")
    if not parts:
        return ["Memory not applicable (mem_bench did not run)"]
    return ["Memory per-page overhead (kernel accounting; base is the reference): " +
            "; ".join(parts)]


def goals(cells, untrusted):
    return (goal_p1(cells, untrusted) + goal_p2(cells, untrusted) +
            goal_p3(cells, untrusted) + goal_p4(cells, untrusted) +
            goal_p5(cells, untrusted) + goal_memory(cells, untrusted))


# ---------------------------------------------------------------- plots

PLOT_HEAD = """set terminal pngcairo size 1100,700 font "sans,11" noenhanced
set key outside right top
set grid
"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def xy_series(pdir, fn, rows, style, title):
    """Writes @rows ((x, y) pairs) to @pdir/@fn and returns the gnuplot
    plot term that draws them."""
    write(os.path.join(pdir, fn), "".join(f"{x} {y}\n" for x, y in rows))
    return f"'{fn}' using 1:2 with {style} title '{title}'"


def plots(cells, pdir):
    """The four figures as PNG (gnuplot), with their data files; returns
    [(file name, caption)].  Missing data: no figure, said in the caption
    list's place by the caller."""
    os.makedirs(pdir, exist_ok=True)
    made = []
    ks = kernels_of(cells)

    # 1. pin cost vs buffer size per method and kernel: one panel per
    # buffer kind, GUP calls of 512 pages (the middle size of make bench).
    pc = pick(cells, "pin-cost")
    # before pinlab 8da1cea the key was batch= (B-page PINs)
    batches = sorted({int(c["keys"].get("gup_call", c["keys"].get("batch", 0))) for c in pc})
    batch = str(512 if 512 in batches else (batches[0] if batches else 0))
    kinds = []
    for c in pc:
        kind = (c["keys"]["mem"], c["keys"]["page"])
        if kind not in kinds:
            kinds.append(kind)
    if pc:
        sizes = sorted({int(c["keys"]["size_mib"]) for c in pc})
        gp = [PLOT_HEAD, "set terminal pngcairo size 1500,1000 font 'sans,10' noenhanced",
              "set output 'pin-cost.png'", "set logscale x 2", "set logscale y 10",
              "set xtics (" + ", ".join(f"'{x}' {x}" for x in sizes) + ")",
              "set key inside top left font ',8' opaque box",
              "set offsets graph 0.04, graph 0.04, 0, 0",
              f"set multiplot layout 2,{(len(kinds) + 1) // 2} title "
              f"'pin + unpin cost per page vs buffer size (GUP calls of {batch} pages; "
              f"median of the rounds; absolute TCG times, compare lines within a kernel)'"]
        for mem, page in kinds:
            series = []
            for k in ks:
                for meth in sorted({c["keys"]["method"] for c in pc}):
                    for sw in sorted({c["keys"].get("dma_pin_lru", "-") for c in pc}):
                        rows = sorted((int(c["keys"]["size_mib"]), c["metrics"]["ns_per_page"])
                                      for c in pick(cells, "pin-cost", k, mem=mem, page=page,
                                                    gup_call=batch, method=meth, dma_pin_lru=sw))
                        if not rows:
                            continue
                        t = f"{k} {meth}" + (f" lru={sw}" if sw != "-" else "")
                        series.append(xy_series(pdir, f"pin-cost-{mem}-{page}-{k}-{meth}-{sw}.dat",
                                                rows, "linespoints", t))
            gp += [f"set title '{mem} {page}'", "set xlabel 'buffer size (MiB)'",
                   "set ylabel 'ns per page (pin + unpin), log scale'",
                   "plot " + ", ".join(series) if series else "plot 0 notitle"]
        gp.append("unset multiplot")
        if run_gnuplot(pdir, "pin-cost", gp):
            made.append(("pin-cost.png", "pin + unpin cost per page against the buffer size, "
                         "per method and kernel"))

    # 2. writeback bytes over time for an idle write pin.
    ws = pick(cells, "wb-series", case="idle")
    if ws:
        series = []
        for k in ks:
            for size in sorted({int(c["keys"]["size_mib"]) for c in ws}):
                rows = sorted((int(c["keys"]["t_s"]), c["metrics"]["bytes"] / 2**20)
                              for c in pick(cells, "wb-series", k, case="idle", size_mib=str(size)))
                if rows:
                    series.append(xy_series(pdir, f"wb-idle-{k}-{size}.dat", [(0, 0)] + rows,
                                            "linespoints", f"{k}, {size} MiB pin"))
        gp = [PLOT_HEAD, "set output 'wb-idle.png'",
              "set title 'writeback of an idle long-term write pin (ext4): bytes written "
              "to the block device since the device wrote one page'",
              "set xlabel 'time since the fsync that cleaned the range (s)'",
              "set ylabel 'written to the block device (MiB, cumulative)'",
              "set yrange [0:*]",
              "plot " + ", ".join(series)]
        if run_gnuplot(pdir, "wb-idle", gp):
            made.append(("wb-idle.png", "cumulative writeback of an idle write pin over time, "
                         "per kernel and pin size"))

    # 3. pgscan over time under memcg pressure.
    ps = pick(cells, "pgscan-series")
    if ps:
        series = []
        for k in ks:
            for ph in ("unpinned", "pinned", "scanned"):
                rows = sorted((int(c["keys"]["t_ms"]) / 1000, c["metrics"]["pgscan"])
                              for c in pick(cells, "pgscan-series", k, phase=ph))
                if rows:
                    series.append(xy_series(pdir, f"pgscan-{k}-{ph}.dat", [(0, 0)] + rows,
                                            "lines lw 2", f"{k}, {ph}"))
        gp = [PLOT_HEAD, "set output 'pgscan.png'",
              "set title 'memcg reclaim: 48 MiB group, 16 MiB of ext4 file pages "
              "(pinned or not), a co-runner reading 96 MiB'",
              "set xlabel 'time since the co-runner started (s)'",
              "set ylabel 'pages scanned by reclaim in the group (pgscan, cumulative)'",
              "set yrange [0:*]",
              "plot " + ", ".join(series)]
        if run_gnuplot(pdir, "pgscan", gp):
            made.append(("pgscan.png", "the group's pgscan over time under memcg pressure, per "
                         "kernel, with and without the pins ('scanned': with the RECLAIM "
                         "injection counting, not timed)"))

    # 4. page-state timeline through pin -> device write -> writeback -> unpin.
    st = pick(cells, "page-state")
    if st:
        sk = kernels_of(st)
        steps = sorted({(int(c["keys"]["step"]), c["keys"]["event"]) for c in st})
        # Each step is a segment [n, n + 1] labelled at its middle.
        tics = ", ".join(f"'{e}' {n + 0.5}" for n, e in steps)
        last = steps[-1][0] + 1 if steps else 1
        gp = [PLOT_HEAD, "set terminal pngcairo size 1100,%d font 'sans,10' noenhanced" % (330 * len(sk) + 60),
              "set output 'page-state.png'",
              f"set multiplot layout {len(sk)},1 title 'state of 16 ext4 file pages "
              "through one cycle (kpageflags after each step)'",
              f"set xtics ({tics}) rotate by -20", "set yrange [-0.5:17]",
              f"set xrange [0:{last}]",
              "set ylabel 'pages of 16'"]
        for k in sk:
            rows = sorted((int(c["keys"]["step"]), c["metrics"]) for c in pick(cells, "page-state", k))
            fn = f"page-state-{k}.dat"
            rows += [(rows[-1][0] + 1, rows[-1][1])] if rows else []
            write(os.path.join(pdir, fn), "".join(
                f"{n} {m.get('lru_list', m['lru'])} {m.get('unevictable', 0)} {m['dirty']} "
                f"{m['writeback']} {m['pinned']} {m['parked']}\n" for n, m in rows))
            gp += [f"set title '{k}'", "set xlabel 'step'" if k == sk[-1] else "unset xlabel",
                   f"plot '{fn}' using 1:($2+0.2) with steps lw 2 title 'on an LRU list reclaim scans', "
                   f"'' using 1:($3+0.1) with steps lw 2 title 'unevictable', "
                   f"'' using 1:($4) with steps lw 2 title 'dirty', "
                   f"'' using 1:($5-0.1) with steps lw 2 title 'writeback', "
                   f"'' using 1:($6-0.2) with steps lw 2 dt 2 title 'dma pinned (bit 27)', "
                   f"'' using 1:($7-0.3) with steps lw 2 dt 3 title 'parked (series)'"]
        gp.append("unset multiplot")
        if run_gnuplot(pdir, "page-state", gp):
            made.append(("page-state.png", "per-page LRU, dirty and writeback state through "
                         "pin, device write, writeback and unpin, per kernel"))
    return made


def run_gnuplot(pdir, name, lines):
    script = os.path.join(pdir, name + ".gp")
    write(script, "\n".join(lines) + "\n")
    if not shutil.which("gnuplot"):
        print(f"# no gnuplot: {name}.png not drawn (apt-get install gnuplot-nox)")
        return False
    r = subprocess.run(["gnuplot", name + ".gp"], cwd=pdir, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"# gnuplot {name}.gp failed: {r.stderr.strip()[:400]}")
        return False
    return True


# ---------------------------------------------------------------- report

def identity_md(out_dir, runs):
    lines = ["## The run's identity\n"]
    ident = R.read(os.path.join(out_dir, "identity.txt")) if out_dir else ""
    if ident:
        lines += ["| what | value |", "|---|---|"]
        for line in ident.splitlines():
            k, _, v = line.partition(" ")
            lines.append(f"| {k} | {v} |")
        lines.append("")
    lines += ["| kernel | boot | release | build id | command line extras |", "|---|---|---|---|---|"]
    for run in runs:
        env = R.read(os.path.join(run, "setup.dmesg"))
        m = re.search(r"Kernel command line: (.*)", env)
        extra = ""
        if m:
            extra = " ".join(w for w in m.group(1).split() if w.startswith(
                ("dma_pin_lru", "movablecore", "hugepages")))
        lines.append(f"| {R.read(os.path.join(run, 'kernel.label')).strip() or '?'} | "
                     f"{R.read(os.path.join(run, 'kernel.profile')).strip() or 'default'} | "
                     f"{R.read(os.path.join(run, 'uname')).strip() or '?'} | "
                     f"{R.read(os.path.join(run, 'build_id')).strip() or '?'} | {extra} |")
    lines.append("")
    return "\n".join(lines)


GOAL_NOTES = """\
Goals (issue 14): P1 mockdma's pin+unpin rate at least 0.95x gup_test's;
P2 parking on/off at most 1.3x (4 KiB file pages) and 1.1x (THP), off
within 3 % of base; P3 no pinned folio scanned by reclaim, writeback at
most one write of the range per dirty_expire and per fsync, co-runner
throughput patched >= base; P4 the fake device's write bandwidth at least
0.8x an in-kernel memcpy; P5 every injection scenario hits its window,
within 1 s.  Every ratio is of two numbers measured in the same boot
(absolute times under QEMU TCG mean nothing); a series goal is judged on
the patched kernel, or, without a patched run, on the kernel named.
"""


def bench(runs, out_dir, tables):
    cells, untrusted = collect(runs, tables)
    lines = goals(cells, untrusted)
    made = plots(cells, os.path.join(out_dir, "plots"))
    data = {"runs": [os.path.basename(r) for r in runs],
            "identity": R.read(os.path.join(out_dir, "identity.txt")).splitlines(),
            "kernels": kernels_of(cells), "untrusted": untrusted,
            "goals": lines, "plots": [f for f, _ in made], "cells": cells}
    write(os.path.join(out_dir, "bench.json"), json.dumps(data, indent=1) + "\n")
    md = tables_md(cells)
    bench_md = ["# pinlab benchmarks\n", "```", *lines, "```\n", GOAL_NOTES]
    if untrusted:
        bench_md += ["**Untrusted program runs** (a sanity check failed; their numbers "
                     "are left out):\n"] + [f"- `{k}`: {'; '.join(v[:3])}" for k, v in untrusted.items()] + [""]
    bench_md += ["## Figures\n"] + [f"![{cap}](plots/{f})\n\n*{cap}.*\n" for f, cap in made]
    bench_md += ["## Tables\n", "Each cell: median (min-max) over the repeats.\n", md,
                 identity_md(out_dir, runs)]
    write(os.path.join(out_dir, "bench.md"), "\n".join(bench_md))
    print(md)
    for k, v in untrusted.items():
        print(f"# UNTRUSTED {k}: {'; '.join(v[:3])}")
    for line in lines:
        print(line)
    return 1 if untrusted or any(" FAILED " in f" {line} " for line in lines) else 0


def latest_bench(results_dir):
    """The newest results/<stamp>-bench directory holding a bench.json,
    preferring one with all four figures (a full make bench, not a
    TESTS= subset)."""
    try:
        names = sorted(n for n in os.listdir(results_dir) if n.endswith("-bench"))
    except OSError:
        return None
    found = []
    for n in reversed(names):
        j = os.path.join(results_dir, n, "bench.json")
        if os.path.exists(j):
            try:
                with open(j) as f:
                    found.append((len(json.load(f).get("plots", [])) == 4, n))
            except (OSError, ValueError):
                continue
    for full, n in found:
        if full:
            return os.path.join(results_dir, n)
    return os.path.join(results_dir, found[0][1]) if found else None


def report_section(out_dir):
    """report.md's benchmark part: the goal lines and the four figures,
    from this run's bench.json or the newest bench run beside it."""
    src = out_dir if out_dir and os.path.exists(os.path.join(out_dir, "bench.json")) else \
        latest_bench(os.path.dirname(os.path.abspath(out_dir))) if out_dir else None
    if not src:
        return ("## Benchmarks\n\nNo benchmark run yet: `make bench` writes the P1-P5 "
                "lines and the figures, and the next `make run` shows them here.\n")
    with open(os.path.join(src, "bench.json")) as f:
        data = json.load(f)
    rel = os.path.relpath(src, os.path.abspath(out_dir))
    rel = "" if rel == "." else rel + "/"
    out = ["## Benchmarks\n",
           f"From `{os.path.basename(src)}` (kernels {', '.join(data['kernels'])}):\n",
           "```", *data["goals"], "```\n"]
    caps = {"pin-cost.png": "pin + unpin cost per page vs buffer size, per method and kernel",
            "wb-idle.png": "writeback of an idle write pin over time",
            "pgscan.png": "pgscan over time under memcg pressure",
            "page-state.png": "page state through pin, device write, writeback, unpin"}
    for f in data["plots"]:
        out.append(f"![{caps.get(f, f)}]({rel}plots/{f})\n")
    missing = [f for f in caps if f not in data["plots"]]
    if missing:
        out.append(f"Not drawn (no data in that run): {', '.join(missing)}\n")
    out.append(f"Tables: `{rel}bench.md`.\n")
    return "\n".join(out)


# ---------------------------------------------------------------- compare

def resolve(d, results_dir):
    if os.path.isdir(d):
        return d
    alt = os.path.join(results_dir, d)
    if os.path.isdir(alt):
        return alt
    raise SystemExit(f"compare: no result directory {d}")


def run_dirs(d):
    return sorted(os.path.join(d, n) for n in os.listdir(d)
                  if os.path.exists(os.path.join(d, n, "kernel.label")))


def matrix_cells(d):
    cells = {}
    for label, _, kv, ov in R.matrix_lines(run_dirs(d)):
        kd = dict(kv)
        key = (label, kd.pop("table", "?"), tuple(sorted(kd.items())))
        cells[key] = dict(ov)
    return cells


# Timed metrics: compare only their same-boot ratios.
TIMED = ("ns_per_page", "mb_per_s", "ms", "corunner_mib_per_s", "corunner_sys_ms")


def same_boot_ratios(cells):
    """{(kernel, "<table> ratio", cell keys): r}: gup_test / mockdma ns per
    page (P1), parking on / off (P2), DMA / memcpy MB/s (P4), co-runner
    pinned / unpinned (P3): the numbers a change can be judged by."""
    out = {}
    for c in cells:
        k, t, kd = c["kernel"], c["table"], c["keys"]
        if t == "pin-cost" and kd.get("method", "").startswith("gup_test-"):
            m = pick(cells, t, k, **dict(kd, method=kd["method"].replace("gup_test", "mockdma")))
            if m:
                key = tuple(sorted(dict(kd, method=kd["method"].split("-")[1]).items()))
                out[(k, "pin-cost mockdma/gup_test rate", key)] = \
                    c["metrics"]["ns_per_page"] / m[0]["metrics"]["ns_per_page"]
        if t == "pin-cost" and kd.get("dma_pin_lru") == "1":
            off = pick(cells, t, k, **dict(kd, dma_pin_lru="0"))
            if off:
                out[(k, "pin-cost parking on/off", tuple(sorted(kd.items())))] = \
                    c["metrics"]["ns_per_page"] / off[0]["metrics"]["ns_per_page"]
        if t == "dma-bw" and kd.get("method") == "dma-write":
            ref = pick(cells, t, k, **dict(kd, method="memcpy"))
            if ref:
                key = tuple(sorted((x, v) for x, v in kd.items() if x != "method"))
                out[(k, "dma-bw dma/memcpy", key)] = \
                    c["metrics"]["mb_per_s"] / ref[0]["metrics"]["mb_per_s"]
        if t == "reclaim" and kd.get("phase") == "pinned":
            u = pick(cells, t, k, phase="unpinned")
            if u and u[0]["metrics"]["corunner_mib_per_s"]:
                out[(k, "reclaim co-runner pinned/unpinned", ())] = \
                    c["metrics"]["corunner_mib_per_s"] / u[0]["metrics"]["corunner_mib_per_s"]
    return out


def compare(a, b, results_dir, threshold):
    a, b = resolve(a, results_dir), resolve(b, results_dir)
    out = [f"# compare {a} -> {b}\n"]
    ma, mb = matrix_cells(a), matrix_cells(b)
    diffs = []
    for key in sorted(set(ma) | set(mb), key=str):
        for o in sorted(set(ma.get(key, {})) | set(mb.get(key, {}))):
            va, vb = ma.get(key, {}).get(o, "(absent)"), mb.get(key, {}).get(o, "(absent)")
            if va != vb:
                k = " ".join(f"{x}={y}" for x, y in key[2])
                diffs.append(f"| {key[0]} | {key[1]} | {k} | {o} | {va} | {vb} |")
    out.append(f"## Matrix cells that differ: {len(diffs)}\n")
    if diffs:
        out += ["| kernel | table | cell | outcome | A | B |", "|---|---|---|---|---|---|", *diffs]
    out.append("")
    ja, jb = (os.path.join(x, "bench.json") for x in (a, b))
    if os.path.exists(ja) and os.path.exists(jb):
        with open(ja) as f:
            da = json.load(f)
        with open(jb) as f:
            db = json.load(f)
        ga, gb = set(da["goals"]), set(db["goals"])
        out.append("## Goal lines that differ\n")
        out += [f"- A: `{g}`" for g in da["goals"] if g not in gb]
        out += [f"- B: `{g}`" for g in db["goals"] if g not in ga]
        if ga == gb:
            out.append("(none)")
        out.append("")

        def index(d):
            """Counts as they are; times only as ratios within one boot
            (absolute TCG times differ from run to run)."""
            idx = {(c["kernel"], c["table"], tuple(sorted(c["keys"].items()))):
                   {m: v for m, v in c["metrics"].items() if m not in TIMED}
                   for c in d["cells"] if c["table"] not in SERIES_TABLES}
            for key, r in same_boot_ratios(d["cells"]).items():
                idx.setdefault(key, {})["ratio"] = r
            return idx
        ia, ib = index(da), index(db)
        rows = []
        for key in sorted(set(ia) | set(ib), key=str):
            for m in sorted(set(ia.get(key, {})) | set(ib.get(key, {}))):
                if m.endswith(("_min", "_max")) or m == "n":
                    continue
                va, vb = ia.get(key, {}).get(m), ib.get(key, {}).get(m)
                if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
                    base = max(abs(va), abs(vb))
                    if base == 0 or abs(va - vb) / base <= threshold:
                        continue
                elif va == vb:
                    continue
                k = " ".join(f"{x}={y}" for x, y in key[2])
                rows.append(f"| {key[0]} | {key[1]} | {k} | {m} | {fmt(va) if va is not None else '(absent)'} "
                            f"| {fmt(vb) if vb is not None else '(absent)'} |")
        out.append(f"## Benchmark cells that differ by more than {threshold:.0%}: {len(rows)}\n")
        out.append("Counts as measured; times only as their ratios within one boot.\n")
        if rows:
            out += ["| kernel | table | cell | metric | A | B |", "|---|---|---|---|---|---|", *rows]
        out.append("")
        figs = []
        for f in sorted(set(da["plots"]) | set(db["plots"])):
            name = f[:-4]

            def digest(d):
                p = os.path.join(d, "plots")
                h = hashlib.sha256()
                if not os.path.isdir(p):
                    return None
                for n in sorted(os.listdir(p)):
                    if n.startswith(name) and n.endswith(".dat"):
                        h.update(n.encode())
                        with open(os.path.join(p, n), "rb") as fh:
                            h.update(fh.read())
                return h.hexdigest()
            if f not in da["plots"] or f not in db["plots"] or digest(a) != digest(b):
                figs.append(f"- `{f}`: data differ (A `{os.path.join(a, 'plots', f)}`, "
                            f"B `{os.path.join(b, 'plots', f)}`)")
        out.append(f"## Figures whose data differ: {len(figs)}\n")
        out += figs
    else:
        out.append("## Benchmarks\n\n(bench.json missing in "
                   f"{' and '.join(x for x, j in ((a, ja), (b, jb)) if not os.path.exists(j))})")
    print("\n".join(out))
    return 0
