// SPDX-License-Identifier: GPL-2.0
/*
 * lifecycle: pins end with their owner.  Closing the fd, the last holder
 * of an inherited fd exiting, and SIGKILL all release every pin: mockdma's
 * pages_pinned returns to its start value and nr_foll_pin_released catches
 * up with nr_foll_pin_acquired (mm/gup.c counts both per page).  Also the
 * accounting itself: a FOLL_PIN pin of N pages moves nr_foll_pin_acquired by
 * exactly N, a legacy FOLL_GET pin does not move it.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "lib/pinlab.h"

#define NPAGES 32
#define LT_W (MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)

static char *buf;
static long pinned0;

static int balanced(void)
{
	return pl_mockdma_stat("pages_pinned") == pinned0 &&
	       pl_vmstat("nr_foll_pin_acquired") == pl_vmstat("nr_foll_pin_released");
}

static int open_dev(void)
{
	return open("/dev/mockdma", O_RDWR);
}

static void test_accounting(int method, const char *name)
{
	int fd = open_dev();
	long a0 = pl_vmstat("nr_foll_pin_acquired"), a1, r0, r1;
	/* 6.1 refuses FOLL_LONGTERM on these two paths (see pin_matrix) */
	unsigned int flags = method == MOCKDMA_METHOD_GUP ||
			     method == MOCKDMA_METHOD_PIN_UNLOCKED ?
			     MOCKDMA_PIN_WRITE : LT_W;
	long want = method == MOCKDMA_METHOD_GUP ? 0 : NPAGES;
	__u32 h;
	int ok;

	ok = !pl_pin(fd, buf, NPAGES * pl_page_size, method, flags, &h);
	a1 = pl_vmstat("nr_foll_pin_acquired");
	ok &= pl_mockdma_stat("pages_pinned") == pinned0 + NPAGES;
	r0 = pl_vmstat("nr_foll_pin_released");
	ok &= !pl_unpin(fd, h, 0);
	r1 = pl_vmstat("nr_foll_pin_released");
	close(fd);
	if (a1 - a0 != want || r1 - r0 != want)
		ksft_print_msg("%s: acquired +%ld released +%ld, want +%ld\n",
			       name, a1 - a0, r1 - r0, want);
	ksft_test_result(ok && a1 - a0 == want && r1 - r0 == want && balanced(),
			 "accounting %s: nr_foll_pin_acquired/released +%ld\n", name, want);
}

static void test_close_releases(void)
{
	int fd = open_dev(), ok;

	ok = !pl_pin(fd, buf, NPAGES * pl_page_size, MOCKDMA_METHOD_PIN, LT_W, NULL) &&
	     !pl_pin(fd, buf, NPAGES * pl_page_size, MOCKDMA_METHOD_PIN_FAST, LT_W, NULL);
	ok &= pl_mockdma_stat("pages_pinned") == pinned0 + 2 * NPAGES;
	close(fd);
	ksft_test_result(ok && balanced(), "close with two pins held releases both\n");
}

static void test_fork_inherits(void)
{
	int fd = open_dev(), ok, status;
	__u32 h;
	pid_t pid;

	ok = !pl_pin(fd, buf, NPAGES * pl_page_size, MOCKDMA_METHOD_PIN_FAST, LT_W, &h);
	pid = fork();
	if (!pid)
		_exit(0);	/* child's copy of the fd goes away */
	waitpid(pid, &status, 0);
	/* The parent still holds the file: the pin must survive. */
	ok &= pl_mockdma_stat("pages_pinned") == pinned0 + NPAGES;
	ok &= !pl_unpin(fd, h, 0);
	close(fd);
	ksft_test_result(ok && balanced(), "fork: child exit keeps the parent's pin\n");
}

static void test_child_exit_and_kill(int kill_it)
{
	int sync_pipe[2], ok = 1, status;
	char c;
	pid_t pid;

	if (pipe(sync_pipe))
		ksft_exit_fail_msg("pipe\n");
	pid = fork();
	if (!pid) {
		int fd = open_dev();

		if (pl_pin(fd, buf, NPAGES * pl_page_size,
			   MOCKDMA_METHOD_PIN_FAST, LT_W, NULL))
			_exit(1);
		if (write(sync_pipe[1], "p", 1) != 1)
			_exit(1);
		if (kill_it)
			pause();
		_exit(0);
	}
	ok &= read(sync_pipe[0], &c, 1) == 1;
	if (kill_it) {
		ok &= pl_mockdma_stat("pages_pinned") == pinned0 + NPAGES;
		kill(pid, SIGKILL);
	}
	waitpid(pid, &status, 0);
	close(sync_pipe[0]);
	close(sync_pipe[1]);
	ksft_test_result(ok && balanced(), "%s with pins held releases them\n",
			 kill_it ? "SIGKILL" : "exit");
}

int main(void)
{
	int fd = pl_open_or_skip();

	close(fd);
	buf = mmap(NULL, NPAGES * pl_page_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		ksft_exit_fail_msg("mmap\n");
	memset(buf, 1, NPAGES * pl_page_size);
	pinned0 = pl_mockdma_stat("pages_pinned");
	ksft_set_plan(8);
	test_accounting(MOCKDMA_METHOD_PIN_FAST, "pin_fast");
	test_accounting(MOCKDMA_METHOD_PIN, "pin");
	test_accounting(MOCKDMA_METHOD_PIN_UNLOCKED, "pin_unlocked");
	test_accounting(MOCKDMA_METHOD_GUP, "gup");
	test_close_releases();
	test_fork_inherits();
	test_child_exit_and_kill(0);
	test_child_exit_and_kill(1);
	ksft_finished();
}
