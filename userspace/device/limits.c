// SPDX-License-Identifier: GPL-2.0
/*
 * limits: pinned pages are charged to RLIMIT_MEMLOCK through mm->pinned_vm
 * unless the caller has CAP_IPC_LOCK (as drivers/infiniband/core/umem.c
 * does), and one fd may hold at most the max_fd_pages module parameter.
 * Over either limit PIN fails (ENOMEM, ENOSPC) and pins nothing.
 */
#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "lib/pinlab.h"

#define LT_W (MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)
#define MAX_FD_PARAM "/sys/module/mockdma/parameters/max_fd_pages"

static char *buf;

/* In a child that dropped root (and with it CAP_IPC_LOCK). Exit code is a
 * bit mask of failed steps, 0 when all hold. */
static int memlock_child(int fd)
{
	struct rlimit rl = { 8 * 4096, 8 * 4096 };
	size_t pg = pl_page_size;
	int bad = 0, ret;
	__u32 h;

	if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgroups(0, NULL) ||
	    setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return 0x80;
	if (pl_pin(fd, buf, 8 * pg, MOCKDMA_METHOD_PIN_FAST, LT_W, &h))
		bad |= 1;
	ret = pl_pin(fd, buf + 8 * pg, pg, MOCKDMA_METHOD_PIN_FAST, LT_W, NULL);
	if (ret != -ENOMEM)
		bad |= 2;
	if (pl_unpin(fd, h, 0))
		bad |= 4;
	if (pl_pin(fd, buf, 8 * pg, MOCKDMA_METHOD_PIN_FAST, LT_W, &h) ||
	    pl_unpin(fd, h, 0))
		bad |= 8;
	return bad;
}

static int write_param(const char *val)
{
	int fd = open(MAX_FD_PARAM, O_WRONLY), ok;

	if (fd < 0)
		return 0;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok;
}

int main(void)
{
	int fd = pl_open_or_skip(), status, ret;
	long pinned0 = pl_mockdma_stat("pages_pinned");
	size_t pg = pl_page_size;
	char saved[32] = "";
	__u32 h;
	pid_t pid;
	FILE *f;

	ksft_set_plan(3);
	buf = mmap(NULL, 64 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		ksft_exit_fail_msg("mmap\n");
	memset(buf, 1, 64 * pg);

	pid = fork();
	if (!pid)
		_exit(memlock_child(fd));
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		ksft_print_msg("memlock child status %#x\n", status);
	ksft_test_result(WIFEXITED(status) && !WEXITSTATUS(status),
			 "RLIMIT_MEMLOCK 8 pages without CAP_IPC_LOCK: 8 pin, the 9th gets ENOMEM\n");

	f = fopen(MAX_FD_PARAM, "r");
	if (!f || !fgets(saved, sizeof(saved), f))
		ksft_exit_fail_msg("read %s\n", MAX_FD_PARAM);
	fclose(f);
	write_param("32");
	ret = pl_pin(fd, buf, 32 * pg, MOCKDMA_METHOD_PIN_FAST, LT_W, &h);
	ksft_test_result(!ret && pl_pin(fd, buf + 32 * pg, pg,
					MOCKDMA_METHOD_PIN_FAST, LT_W, NULL) == -ENOSPC,
			 "max_fd_pages=32: 32 pages pin, one more gets ENOSPC\n");
	if (!ret)
		pl_unpin(fd, h, 0);
	write_param(saved);
	close(fd);
	ksft_test_result(pl_mockdma_stat("pages_pinned") == pinned0,
			 "nothing left pinned\n");
	ksft_finished();
}
