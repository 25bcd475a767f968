// SPDX-License-Identifier: GPL-2.0
/*
 * engine: mockdma's asynchronous DMA engine writes on its own, and stops
 * with its pins however they end.
 *
 * - It makes progress: passes and the last sequence number grow while it
 *   runs, and the pinned memory shows the last completed pass's stamps on
 *   every page of its set and nothing outside it.
 * - START on a running engine is -EBUSY; STOP is idempotent.
 * - UNPIN, close of the fd and SIGKILL of the owner each stop it: the global
 *   engines_running and pages_pinned return to their start values, and the
 *   kernel's FOLL_PIN counters balance.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "lib/pinlab.h"

#define NPAGES	8
#define LT_W	(MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)

static char *buf;
static size_t len;

static int idle(void)
{
	return pl_mockdma_stat("engines_running") == 0 &&
	       pl_mockdma_stat("pages_pinned") == 0 &&
	       pl_vmstat("nr_foll_pin_acquired") ==
			pl_vmstat("nr_foll_pin_released");
}

static void test_progress(void)
{
	int fd = open("/dev/mockdma", O_RDWR), ok = 1;
	struct mockdma_engine st1, st2;
	__u32 h;

	memset(buf, 0x11, len);
	ok &= !pl_pin(fd, buf, len, MOCKDMA_METHOD_PIN_FAST, LT_W, &h);
	/* Pages 2..5 only, a pass every millisecond. */
	ok &= !pl_engine_start(fd, h, 2, 4, 1000, 0);
	ok &= pl_engine_start(fd, h, 0, 0, 1000, 0) == -EBUSY;
	st1 = (struct mockdma_engine){ 0 };
	ok &= !pl_engine_wait(fd, h, &st1, 5, 5000);
	ok &= st1.running == 1;
	ok &= !pl_engine_stop(fd, h, &st1);
	ok &= !pl_engine_stop(fd, h, &st2);	/* idempotent */
	ksft_print_msg("[INFO] %llu passes, last seq %llu\n",
		       (unsigned long long)st1.passes,
		       (unsigned long long)st1.last_seq);
	ok &= st1.passes > 0 && st1.last_seq >= st1.passes && !st1.running &&
	      st2.passes == st1.passes && !st2.running;
	/* The engine's pages hold the last pass; the others are untouched. */
	ok &= pl_count_stamped(buf + 2 * pl_page_size, 4 * pl_page_size, h, 2,
			       st1.last_seq) == 4;
	ok &= buf[0] == 0x11 && buf[pl_page_size] == 0x11 &&
	      buf[6 * pl_page_size] == 0x11 && buf[len - 1] == 0x11;
	ok &= !pl_unpin(fd, h, 0);
	close(fd);
	ksft_test_result(ok && idle(),
			 "engine writes its page set, pass after pass, until STOP\n");
}

/* end: 0 UNPIN, 1 close, 2 SIGKILL of the process owning the fd */
static void test_stop_by(int end, const char *what)
{
	struct mockdma_engine st = { 0 };
	int ok = 1;

	if (end < 2) {
		int fd = open("/dev/mockdma", O_RDWR);
		__u32 h;

		ok &= !pl_pin(fd, buf, len, MOCKDMA_METHOD_PIN_FAST, LT_W, &h);
		ok &= !pl_engine_start(fd, h, 0, 0, 0, MOCKDMA_ENGINE_SET_DIRTY);
		ok &= !pl_engine_wait(fd, h, &st, 2, 5000);
		ok &= pl_mockdma_stat("engines_running") == 1;
		if (end == 0)
			ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
		close(fd);
	} else {
		int ready[2], status;
		pid_t pid;
		char c;

		if (pipe(ready))
			ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
		pid = fork();
		if (!pid) {
			int fd = open("/dev/mockdma", O_RDWR);
			__u32 h;

			if (pl_pin(fd, buf, len, MOCKDMA_METHOD_PIN_FAST, LT_W,
				   &h) ||
			    pl_engine_start(fd, h, 0, 0, 0, 0))
				_exit(1);
			c = 1;
			if (write(ready[1], &c, 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		ok &= read(ready[0], &c, 1) == 1;
		ok &= pl_mockdma_stat("engines_running") == 1;
		kill(pid, SIGKILL);
		ok &= waitpid(pid, &status, 0) == pid && WIFSIGNALED(status);
		close(ready[0]);
		close(ready[1]);
	}
	ksft_test_result(ok && idle(), "engine stopped and pins released by %s\n",
			 what);
}

/*
 * Module unload cannot stop an engine behind its fd's back: an open fd holds
 * a module reference (fops.owner), so delete_module() fails with EWOULDBLOCK
 * and the engine keeps running; mockdma_exit() only ever finds idle engines.
 */
static void test_unload_refused(void)
{
	int fd = open("/dev/mockdma", O_RDWR), ok = 1, ret;
	struct mockdma_engine st = { 0 };
	__u32 h;

	ok &= !pl_pin(fd, buf, len, MOCKDMA_METHOD_PIN_FAST, LT_W, &h);
	ok &= !pl_engine_start(fd, h, 0, 0, 1000, 0);
	ret = syscall(SYS_delete_module, "mockdma", O_NONBLOCK);
	ok &= ret == -1 && errno == EWOULDBLOCK;
	ok &= !pl_engine_wait(fd, h, &st, 2, 5000);
	close(fd);
	ksft_test_result(ok && idle(),
			 "module unload refused (EWOULDBLOCK) while an engine runs\n");
}

int main(void)
{
	int fd = pl_open_or_skip();

	close(fd);
	ksft_set_plan(5);
	len = NPAGES * pl_page_size;
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(buf, 0x11, len);
	if (!idle())
		ksft_exit_fail_msg("pins or engines left over before the test\n");
	test_progress();
	test_stop_by(0, "UNPIN");
	test_stop_by(1, "close");
	test_stop_by(2, "SIGKILL");
	test_unload_refused();
	ksft_finished();
}
