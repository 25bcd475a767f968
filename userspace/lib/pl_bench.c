// SPDX-License-Identifier: GPL-2.0
/*
 * pinlab benchmark helpers: see pl_bench.h.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>

#include "pl_bench.h"

int pl_bench_full(void)
{
	const char *m = getenv("PINLAB_BENCH");

	return m && !strcmp(m, "full");
}

double pl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void pl_stat_of(double *v, int n, struct pl_stat *s)
{
	memset(s, 0, sizeof(*s));
	if (n <= 0)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	s->n = n;
	s->min = v[0];
	s->max = v[n - 1];
	s->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void pl_stat_print(const char *metric, const struct pl_stat *s)
{
	printf(" %s=%.6g %s_min=%.6g %s_max=%.6g n=%d", metric, s->median,
	       metric, s->min, metric, s->max, s->n);
}

int pl_bench_no_probes(void)
{
	long live = pl_mockdma_stat("inject_probes_live");
	long armed = pl_mockdma_stat("inject_armed");

	if (live < 0 || armed < 0) {
		ksft_print_msg("mockdma debugfs stats unreadable: cannot tell whether a kprobe is live\n");
		return 0;
	}
	if (live || armed) {
		ksft_print_msg("%ld injection kprobe(s) live, %ld page(s) armed: every writeback and reclaim pays for them, no timing is trusted\n",
			       live, armed);
		return 0;
	}
	return 1;
}

/* MUTATE=bench-live-probe: a kprobe left registered during the timing. */
static void mutate_live_probe(struct pl_bench_guard *g)
{
	__u32 seq = 0;

	g->mfd = open("/dev/mockdma", O_RDWR);
	g->page = mmap(NULL, pl_page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->mfd < 0 || g->page == MAP_FAILED)
		ksft_exit_fail_msg("bench-live-probe: set-up: %s\n",
				   strerror(errno));
	memset(g->page, 1, pl_page_size);
	if (pl_pin(g->mfd, g->page, pl_page_size, MOCKDMA_METHOD_PIN,
		   MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, &g->handle) ||
	    pl_inject_arm(g->mfd, g->handle, MOCKDMA_INJECT_WB_START, 0, 1, 0,
			  MOCKDMA_STAMP_SIZE, &seq))
		ksft_exit_fail_msg("bench-live-probe: cannot arm\n");
}

int pl_bench_begin(struct pl_bench_guard *g)
{
	memset(g, 0, sizeof(*g));
	g->mfd = -1;
	if (pl_mutated("bench-live-probe"))
		mutate_live_probe(g);
	g->pins = pl_pins_now();
	g->series_pinned = pl_series_pinned_pages();
	if (g->pins.acq < 0 || g->pins.rel < 0) {
		ksft_print_msg("no FOLL_PIN counters in /proc/vmstat\n");
		return -1;
	}
	return pl_bench_no_probes() ? 0 : -1;
}

int pl_bench_end(struct pl_bench_guard *g)
{
	struct pl_pins now;
	int ok = pl_bench_no_probes();
	long held, series_pinned;

	if (g->mfd >= 0) {
		pl_inject_disarm(g->mfd, g->handle, MOCKDMA_INJECT_WB_START,
				 NULL);
		pl_unpin(g->mfd, g->handle, 0);
		close(g->mfd);
		munmap(g->page, pl_page_size);
		g->mfd = -1;
	}
	now = pl_pins_now();
	held = pl_mockdma_stat("pages_pinned");
	series_pinned = pl_series_pinned_pages();
	if (now.acq - g->pins.acq != now.rel - g->pins.rel) {
		ksft_print_msg("FOLL_PIN counters: %ld acquired, %ld released while timing\n",
			       now.acq - g->pins.acq, now.rel - g->pins.rel);
		ok = 0;
	}
	if (held != 0) {
		ksft_print_msg("mockdma pages_pinned %ld after timing\n", held);
		ok = 0;
	}
	if (series_pinned != g->series_pinned) {
		ksft_print_msg("the series' pinned-page count %ld before, %ld after timing\n",
			       g->series_pinned, series_pinned);
		ok = 0;
	}
	return ok ? 0 : -1;
}
