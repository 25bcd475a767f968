// SPDX-License-Identifier: GPL-2.0
/*
 * dma_interrupt: a long transfer stops when it must (issue 13, item 5).
 * debugfs dma_page_delay_us makes every page take DELAY_US, so a transfer
 * of NPAGES pages lasts NPAGES * DELAY_US (8 s) at least, and a stop that
 * works is told from one that waits by counters and stamps, not by a clock.
 *
 * kill-dma-write  a child in a DMA_WRITE of the whole range gets SIGKILL
 *                 once the device wrote page 0: it is reaped, its write was
 *                 cut between two pages (dma_interrupted_total + 1, fewer
 *                 than NPAGES pages hold its stamps in the memory it
 *                 shares with us) and its fd and pins are gone (debugfs fds,
 *                 pages_pinned; the harness checks the FOLL_PIN deltas).
 * kill-dma-read   the same for a DMA_READ: dma_read_bytes grew by less than
 *                 the range.
 * engine-stop     ENGINE_STOP during the engine's first pass over NPAGES
 *                 pages returns with that pass cut short: passes 0,
 *                 engine_passes_cut_total + 1, and between 1 and NPAGES - 1
 *                 pages hold the pass's stamps.
 * interval-0      with interval_us 0 the engine pauses one jiffy between
 *                 passes (GET_INFO tick_us), not a busy requeue: over a
 *                 measured window it completes at most window / tick + 2
 *                 passes of one page (the requeue made thousands).
 *
 * Before the fix each of these failed (mutations dma-uninterruptible and
 * engine-busy-requeue bring the old behaviour back): the write and the pass
 * ran to the end, the read too.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "lib/pinlab.h"

#define NPAGES		2048
#define DELAY_US	4000
#define LT_W		(MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)
#define DELAY_KNOB	"/sys/kernel/debug/mockdma/dma_page_delay_us"
#define FDS		"/sys/kernel/debug/mockdma/fds"

static char *shared;	/* NPAGES, MAP_SHARED: the child's writes show here */
static size_t len;

static void delay_off(void)
{
	if (pl_write_file(DELAY_KNOB, "0"))
		ksft_print_msg("cannot reset %s\n", DELAY_KNOB);
}

static int set_delay(unsigned int us)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", us);
	return pl_write_file(DELAY_KNOB, v);
}

/* 1 if debugfs "fds" lists an fd of @pid. */
static int fd_listed(pid_t pid)
{
	char line[128], want[32];
	FILE *f = fopen(FDS, "r");
	int found = 0;

	if (!f)
		ksft_exit_fail_msg("%s: %s\n", FDS, strerror(errno));
	snprintf(want, sizeof(want), "pid %d ", pid);
	while (fgets(line, sizeof(line), f))
		found |= !strncmp(line, want, strlen(want));
	fclose(f);
	return found;
}

/* Polls @cond until true or 10 s passed; 1 if it came true. */
static int wait_for(int (*cond)(void *), void *arg)
{
	long end = pl_now_ms() + 10000;

	while (pl_now_ms() < end) {
		if (cond(arg))
			return 1;
		usleep(1000);
	}
	return 0;
}

static int page0_stamped(void *handle)
{
	const struct mockdma_stamp *s = (const void *)shared;

	return s->magic == MOCKDMA_STAMP_MAGIC &&
	       s->handle == *(__u32 *)handle;
}

static int read_started(void *bytes0)
{
	return pl_mockdma_stat("dma_read_bytes") > *(long *)bytes0;
}

/*
 * A child that pins the shared range on its own fd, says its handle, and
 * then writes (or reads) the whole range; killed once it is in the
 * transfer.  Returns 1 if every check of the case holds.
 */
static int kill_in_transfer(int is_write)
{
	long intr0 = pl_mockdma_stat("dma_interrupted_total");
	long bytes0 = pl_mockdma_stat("dma_read_bytes");
	long pinned0 = pl_mockdma_stat("pages_pinned");
	int p[2], status, ok = 1, in_it;
	size_t fresh = 0;
	long nread = 0;
	__u32 h = 0;
	pid_t pid;

	memset(shared, 0x33, len);
	if (pipe(p))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		int fd = open("/dev/mockdma", O_RDWR);
		char *dst = malloc(len);

		if (fd < 0 || !dst ||
		    pl_pin(fd, shared, len, MOCKDMA_METHOD_PIN_FAST, LT_W, &h))
			h = 0;
		if (write(p[1], &h, sizeof(h)) != sizeof(h) || !h)
			_exit(1);
		if (is_write)
			pl_dma_write(fd, h, 0, len, 0, NULL);
		else
			pl_dma_read(fd, h, 0, len, dst);
		_exit(2);	/* reached only if not killed */
	}
	close(p[1]);
	if (read(p[0], &h, sizeof(h)) != sizeof(h) || !h)
		ok = 0;
	close(p[0]);
	in_it = ok && (is_write ? wait_for(page0_stamped, &h) :
			       wait_for(read_started, &bytes0));
	kill(pid, SIGKILL);
	ok &= waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
	      WTERMSIG(status) == SIGKILL;
	if (is_write)
		fresh = pl_count_stamped(shared, len, h, 0, 1);
	else
		nread = pl_mockdma_stat("dma_read_bytes") - bytes0;
	ksft_print_msg("kill-dma-%s: in the transfer %d, reaped %d, %s, dma_interrupted_total +%ld, pages_pinned %ld (before %ld), fd listed %d\n",
		       is_write ? "write" : "read", in_it, ok,
		       is_write ? "pages stamped" : "bytes read",
		       pl_mockdma_stat("dma_interrupted_total") - intr0,
		       pl_mockdma_stat("pages_pinned"), pinned0, fd_listed(pid));
	ksft_print_msg("kill-dma-%s: %zu of %d\n", is_write ? "write" : "read",
		       is_write ? fresh : (size_t)nread,
		       is_write ? NPAGES : (int)len);
	ok &= in_it;
	ok &= pl_mockdma_stat("dma_interrupted_total") == intr0 + 1;
	if (is_write)
		ok &= fresh >= 1 && fresh < NPAGES;
	else
		ok &= nread > 0 && nread < (long)len;
	ok &= pl_mockdma_stat("pages_pinned") == pinned0 && !fd_listed(pid);
	return ok;
}

static void engine_stop(int fd)
{
	long cut0 = pl_mockdma_stat("engine_passes_cut_total");
	struct mockdma_engine st = { 0 };
	int ok, in_it = 0;
	size_t fresh = 0;
	__u32 h = 0;

	memset(shared, 0x44, len);
	ok = !pl_pin(fd, shared, len, MOCKDMA_METHOD_PIN_FAST, LT_W, &h) &&
	     !pl_engine_start(fd, h, 0, 0, 0, 0);
	if (ok)
		in_it = wait_for(page0_stamped, &h);
	ok &= !pl_engine_stop(fd, h, &st);
	fresh = pl_count_stamped(shared, len, h, 0, 1);
	ksft_print_msg("engine-stop: in the pass %d, passes %llu, engine_passes_cut_total +%ld, pages of the pass %zu of %d\n",
		       in_it, (unsigned long long)st.passes,
		       pl_mockdma_stat("engine_passes_cut_total") - cut0,
		       fresh, NPAGES);
	ok &= in_it && !st.running && st.passes == 0 && st.last_seq == 0;
	ok &= pl_mockdma_stat("engine_passes_cut_total") == cut0 + 1;
	ok &= fresh >= 1 && fresh < NPAGES;
	if (h)
		ok &= !pl_unpin(fd, h, 0);
	ksft_test_result(ok,
			 "engine-stop: STOP cuts the pass in progress short at its next page\n");
}

static void interval_zero(int fd, const struct mockdma_info *info)
{
	struct mockdma_engine st = { 0 };
	long t0, ms, bound;
	int ok;
	__u32 h = 0;

	t0 = pl_now_ms();
	ok = !pl_pin(fd, shared, pl_page_size, MOCKDMA_METHOD_PIN_FAST, LT_W,
		     &h) &&
	     !pl_engine_start(fd, h, 0, 0, 0, 0);
	usleep(300 * 1000);
	ok &= !pl_engine_stop(fd, h, &st);
	ms = pl_now_ms() - t0;
	bound = ms * 1000 / info->tick_us + 2;
	ksft_print_msg("interval-0: %llu passes in %ld ms, at most %ld at one jiffy (%u us) each\n",
		       (unsigned long long)st.passes, ms, bound, info->tick_us);
	ok &= st.passes >= 1 && (long)st.passes <= bound;
	if (h)
		ok &= !pl_unpin(fd, h, 0);
	ksft_test_result(ok,
			 "interval-0: interval 0 pauses a jiffy between passes, no busy requeue\n");
}

int main(void)
{
	int fd = pl_open_or_skip();
	struct mockdma_info info;

	if (pl_info(fd, &info))
		ksft_exit_fail_msg("GET_INFO: %s\n", strerror(errno));
	ksft_set_plan(4);
	len = NPAGES * pl_page_size;
	shared = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	atexit(delay_off);
	if (set_delay(DELAY_US))
		ksft_exit_fail_msg("%s: %s\n", DELAY_KNOB, strerror(errno));

	ksft_test_result(kill_in_transfer(1),
			 "kill-dma-write: SIGKILL stops a long DMA_WRITE between two pages, pins released\n");
	ksft_test_result(kill_in_transfer(0),
			 "kill-dma-read: SIGKILL stops a long DMA_READ between two pages, pins released\n");
	engine_stop(fd);
	delay_off();
	interval_zero(fd, &info);
	close(fd);
	ksft_finished();
}
