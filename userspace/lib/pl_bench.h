/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pinlab benchmark helpers (userspace/bench/): clocks, medians and spread,
 * the sanity guard every timed section runs inside, and the "# BENCH" lines
 * ci/report.py turns into tables, bench.json, plots and the goal lines.
 *
 * A benchmark prints KTAP like every program: its results are the sanity
 * checks (pins balanced, data verified, no injection kprobe live while it
 * timed), never a time.  Its numbers are "# BENCH" lines, one per cell:
 *
 *   # BENCH table=<t> <key>=<v>... | <metric>=<v>...
 *
 * (the "# MATRIX" syntax).  ci/report.py trusts the lines of a program only
 * if every result of that program passed.
 *
 * make check runs the short smoke of each benchmark; make bench sets
 * PINLAB_BENCH=full in the guest for the full sizes and repeats.
 */
#ifndef PINLAB_BENCH_H
#define PINLAB_BENCH_H

#include "pinlab.h"

/* 1 under make bench (PINLAB_BENCH=full), 0 for the make check smoke. */
int pl_bench_full(void);
/* CLOCK_MONOTONIC in nanoseconds. */
double pl_now_ns(void);

/* Median and spread of @n samples (@v is sorted in place). */
struct pl_stat {
	double median, min, max;
	int n;
};

void pl_stat_of(double *v, int n, struct pl_stat *s);
/* The fields " median=.. min=.. max=.. n=.." of a BENCH line. */
void pl_stat_print(const char *metric, const struct pl_stat *s);

/*
 * The sanity guard around every timed section: pl_bench_begin() fails
 * unless mockdma has no injection kprobe registered and nothing armed
 * (a live kprobe on __folio_start_writeback() or folio_referenced() slows
 * every writeback and reclaim of the boot), and records the pin counters;
 * pl_bench_end() fails unless no kprobe went live meanwhile, the FOLL_PIN
 * counters rose by as much as each other, mockdma holds no page, and the
 * series' count of long-term pinned pages (pl_series_pinned_pages()) is
 * back where it was.  Each prints why it
 * fails.  MUTATE=bench-live-probe (ci/mutations) arms an injection on a
 * page of its own in pl_bench_begin() and drops it in pl_bench_end(), so
 * that the check must see a live probe.
 */
struct pl_bench_guard {
	struct pl_pins pins;
	long series_pinned;	/* -1 without the series */
	int mfd;		/* the mutation's own fd, -1 without it */
	void *page;
	__u32 handle;
};

int pl_bench_begin(struct pl_bench_guard *g);
int pl_bench_end(struct pl_bench_guard *g);
/* 1 if mockdma has no injection kprobe live and nothing armed, else 0. */
int pl_bench_no_probes(void);

#endif
