// SPDX-License-Identifier: GPL-2.0
/*
 * limits: what bounds how much one can pin (driver/uapi/mockdma.h, struct
 * mockdma_pin).  Over any limit PIN fails and pins nothing.
 *
 * memlock-8        without CAP_IPC_LOCK and with RLIMIT_MEMLOCK at 8 pages,
 *                  8 pages pin and a 9th gets ENOMEM (charged as io_uring
 *                  does: to the user's locked_vm).
 * memlock-zero     with RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK, PIN is EPERM
 *                  (can_do_mlock(), as ib_umem_get()): before the check it
 *                  was ENOMEM (mutation no-can-do-mlock).
 * memlock-fork     the limit holds across fork: a child pins the 8 pages it
 *                  may through the fd its parent shares and exits; the
 *                  handle lives on, so the user stays charged and a second
 *                  child, with a fresh mm, gets ENOMEM for one page.  Once
 *                  the parent unpins that handle, a third child pins 8
 *                  again.  With the charge on the mm (mutation
 *                  memlock-per-mm, the driver before the fix) the second
 *                  child pinned.
 * max-fd-pages     max_fd_pages=32 (the module parameter) as GET_INFO
 *                  reports it (mutation info-stale: the default): 32 pages
 *                  pin, one more gets ENOSPC.
 * nonroot-open     uid 65534 cannot open /dev/mockdma (EACCES: the node is
 *                  0600 root), while an fd it inherited from root works for
 *                  it (permissions are checked at open, as for any device
 *                  node; RLIMIT_MEMLOCK above is what bounds such a
 *                  holder): the memlock cases pin through such an fd.
 * The children drop root (and with it CAP_IPC_LOCK) to uid 65534.
 */
#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "lib/pinlab.h"

#define LT_W (MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)
#define MAX_FD_PARAM "/sys/module/mockdma/parameters/max_fd_pages"
#define LIMIT 8

static char *buf;

/* Sets RLIMIT_MEMLOCK to @pages and drops root; 0 or -errno. */
static int become_nobody(unsigned long pages)
{
	struct rlimit rl = { pages * pl_page_size, pages * pl_page_size };

	if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgroups(0, NULL) ||
	    setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return -errno;
	return 0;
}

/* Exit code is a bit mask of failed steps, 0 when all hold. */
static int memlock_child(int fd)
{
	size_t pg = pl_page_size;
	int bad = 0, ret;
	__u32 h;

	if (become_nobody(LIMIT))
		return 0x80;
	if (pl_pin(fd, buf, LIMIT * pg, MOCKDMA_METHOD_PIN_FAST, LT_W, &h))
		bad |= 1;
	ret = pl_pin(fd, buf + LIMIT * pg, pg, MOCKDMA_METHOD_PIN_FAST, LT_W,
		     NULL);
	if (ret != -ENOMEM)
		bad |= 2;
	if (pl_unpin(fd, h, 0))
		bad |= 4;
	if (pl_pin(fd, buf, LIMIT * pg, MOCKDMA_METHOD_PIN_FAST, LT_W, &h) ||
	    pl_unpin(fd, h, 0))
		bad |= 8;
	return bad;
}

/*
 * Runs @fn(fd) in a child that became nobody with RLIMIT_MEMLOCK @pages and
 * returns its result (a handle, 0 or -errno) as sent back through a pipe,
 * or -1000 if the child could not say.
 */
static long in_child(int fd, unsigned long pages, long (*fn)(int fd))
{
	int p[2], status;
	long r = -1000;
	pid_t pid;

	if (pipe(p))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		long v = become_nobody(pages) ? -1000 : fn(fd);

		_exit(write(p[1], &v, sizeof(v)) == sizeof(v) ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], &r, sizeof(r)) != sizeof(r))
		r = -1000;
	close(p[0]);
	waitpid(pid, &status, 0);
	return r;
}

/* open(2) of /dev/mockdma: 0 (closed again) or -errno. */
static long open_device(int fd)
{
	int nfd = open("/dev/mockdma", O_RDWR);

	(void)fd;
	if (nfd < 0)
		return -errno;
	close(nfd);
	return 0;
}

/* PIN of one page: 0 (unpinned again) or -errno. */
static long pin_one(int fd)
{
	__u32 h;
	int ret = pl_pin(fd, buf, pl_page_size, MOCKDMA_METHOD_PIN_FAST, LT_W,
			 &h);

	if (!ret)
		pl_unpin(fd, h, 0);
	return ret;
}

/* PIN of LIMIT pages, left pinned: the handle, or -errno. */
static long pin_limit_keep(int fd)
{
	__u32 h;
	int ret = pl_pin(fd, buf, LIMIT * pl_page_size,
			 MOCKDMA_METHOD_PIN_FAST, LT_W, &h);

	return ret ? ret : (long)h;
}

/* PIN of LIMIT pages, unpinned again: 0 or -errno. */
static long pin_limit(int fd)
{
	long h = pin_limit_keep(fd);

	return h < 0 ? h : pl_unpin(fd, h, 0);
}

static const char *res(long r)
{
	static char s[8][32];
	static int i;

	i = (i + 1) % 8;
	if (r >= 0)
		snprintf(s[i], sizeof(s[i]), "%ld", r);
	else if (r == -1000)
		snprintf(s[i], sizeof(s[i]), "child failed");
	else
		snprintf(s[i], sizeof(s[i]), "%s", pl_errno_name(-r));
	return s[i];
}

static void memlock_fork(int fd)
{
	long first, second, third = -1000;
	int ret = 0;

	first = in_child(fd, LIMIT, pin_limit_keep);
	second = in_child(fd, LIMIT, pin_one);
	if (first > 0)
		ret = pl_unpin(fd, first, 0);
	third = in_child(fd, LIMIT, pin_limit);
	ksft_print_msg("memlock-fork: first child's handle %s, second child's pin %s, unpin %s, third child's %s\n",
		       res(first), res(second), res(ret), res(third));
	ksft_test_result(first > 0 && second == -ENOMEM && !ret && !third,
			 "memlock-fork: RLIMIT_MEMLOCK holds across fork: the user stays charged while the handle lives\n");
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

static void max_fd_pages(int fd)
{
	struct mockdma_info info, now;
	size_t pg = pl_page_size;
	char saved[32];
	int ret, more = 0;
	__u32 h;

	if (pl_info(fd, &info))
		ksft_exit_fail_msg("GET_INFO: %s\n", strerror(errno));
	snprintf(saved, sizeof(saved), "%llu",
		 (unsigned long long)info.max_fd_pages);
	if (!write_param("32"))
		ksft_exit_fail_msg("write %s: %s\n", MAX_FD_PARAM,
				   strerror(errno));
	ret = pl_info(fd, &now);
	ksft_print_msg("max-fd-pages: GET_INFO says %llu after writing 32 (was %s)\n",
		       (unsigned long long)now.max_fd_pages, saved);
	ret = ret ? ret : pl_pin(fd, buf, 32 * pg, MOCKDMA_METHOD_PIN_FAST,
				 LT_W, &h);
	if (!ret) {
		more = pl_pin(fd, buf + 32 * pg, pg, MOCKDMA_METHOD_PIN_FAST,
			      LT_W, NULL);
		pl_unpin(fd, h, 0);
	}
	if (!write_param(saved))
		ksft_print_msg("cannot restore max_fd_pages=%s\n", saved);
	ksft_test_result(!ret && now.max_fd_pages == 32 && more == -ENOSPC,
			 "max-fd-pages: max_fd_pages=32 as GET_INFO reports it: 32 pages pin, one more gets ENOSPC\n");
}

int main(void)
{
	int fd = pl_open_or_skip(), status;
	long pinned0 = pl_mockdma_stat("pages_pinned"), zero;
	pid_t pid;

	ksft_set_plan(6);
	buf = mmap(NULL, 64 * pl_page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		ksft_exit_fail_msg("mmap\n");
	memset(buf, 1, 64 * pl_page_size);

	fflush(stdout);
	pid = fork();
	if (!pid)
		_exit(memlock_child(fd));
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		ksft_print_msg("memlock child status %#x\n", status);
	ksft_test_result(WIFEXITED(status) && !WEXITSTATUS(status),
			 "memlock-8: RLIMIT_MEMLOCK 8 pages without CAP_IPC_LOCK: 8 pin, the 9th gets ENOMEM\n");

	zero = in_child(fd, 0, pin_one);
	ksft_print_msg("memlock-zero: PIN with RLIMIT_MEMLOCK 0: %s\n",
		       res(zero));
	ksft_test_result(zero == -EPERM,
			 "memlock-zero: RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK: PIN is EPERM (can_do_mlock)\n");

	zero = in_child(fd, LIMIT, open_device);
	ksft_print_msg("nonroot-open: open(/dev/mockdma) as uid 65534: %s; the inherited fd pins: %s\n",
		       res(zero), res(in_child(fd, LIMIT, pin_one)));
	ksft_test_result(zero == -EACCES && in_child(fd, LIMIT, pin_one) == 0,
			 "nonroot-open: uid 65534 cannot open the device (EACCES), an inherited fd works\n");

	memlock_fork(fd);
	max_fd_pages(fd);
	close(fd);
	ksft_test_result(pl_mockdma_stat("pages_pinned") == pinned0,
			 "nothing left pinned\n");
	ksft_finished();
}
