// SPDX-License-Identifier: GPL-2.0
/*
 * device_contract: what mockdma's UAPI promises, on the points a review of
 * the driver found broken.  Each case failed on the driver before its fix.
 *
 * inject-retry         a failed kprobe registration can be retried:
 *                      register_kprobe() stores the resolved address in the
 *                      kprobe before its later checks, so reusing the struct
 *                      gave -EINVAL (symbol_name and addr both set) until
 *                      rmmod.  debugfs inject_fail_register makes the next
 *                      registration fail inside register_kprobe(); the ARM
 *                      after it must succeed.
 * probes-unregistered  no kprobe stays registered once nothing is armed at
 *                      its point (after DISARM, after UNPIN of an armed
 *                      handle): debugfs stats inject_probes_live back to 0,
 *                      so later benchmarks of the boot run unprobed.
 * clean-release        a handle armed and disarmed without a device write is
 *                      released clean at close (DIRTY_IF_WRITTEN means "the
 *                      device wrote", not "a sequence number was taken"):
 *                      its file page, cleaned by fsync, stays clean (stock,
 *                      base; the patched series keeps every long-term
 *                      write-pinned file folio dirty, so there it is dirty).
 * cyclic-ids           a new pin never reuses the id of one just unpinned,
 *                      so a stale stamp on disk never names the new pin.
 * rdonly-fd            an fd opened O_RDONLY cannot pin, write, unpin or
 *                      start anything (EBADF, as write(2)); it may look
 *                      (QUERY, DMA_READ, ENGINE_STATUS reach the handle
 *                      lookup: ENOENT).
 * pfn-hidden           QUERY reports pfns only to an opener with
 *                      CAP_SYS_ADMIN (as /proc/pid/pagemap); without it the
 *                      pfn is 0.
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "lib/pinlab.h"

#define LT_W (MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)
#define FAIL_REGISTER "/sys/kernel/debug/mockdma/inject_fail_register"

static void inject_retry(int fd)
{
	struct pl_buf buf;
	__u32 h, seq = 0, seq2 = 0;
	int first, second, ok;

	if (pl_buf_setup_pinned(&buf, PL_MEM_EXT4_SHARED, fd,
				MOCKDMA_METHOD_PIN_FAST, LT_W, &h)) {
		ksft_test_result_fail("inject-retry: set-up\n");
		return;
	}
	ok = !pl_write_file(FAIL_REGISTER, "1");
	first = pl_inject_arm(fd, h, MOCKDMA_INJECT_WB_END, 0, 0, 0,
			      pl_page_size, &seq);
	second = pl_inject_arm(fd, h, MOCKDMA_INJECT_WB_END, 0, 0, 0,
			       pl_page_size, &seq2);
	ok &= !pl_inject_disarm(fd, h, MOCKDMA_INJECT_WB_END, NULL);
	ok &= !pl_unpin(fd, h, 0);
	pl_buf_teardown(&buf);
	ksft_print_msg("inject-retry: failed registration %s, retry %s\n",
		       first ? pl_errno_name(-first) : "succeeded",
		       second ? pl_errno_name(-second) : "succeeded");
	ksft_test_result(ok && first == -EOPNOTSUPP && !second,
			 "inject-retry: ARM after a failed kprobe registration succeeds\n");
}

static void probes_unregistered(int fd)
{
	struct pl_buf buf;
	long live_armed, live_disarmed, live_unpinned;
	__u32 h, seq = 0;
	int ok;

	if (pl_buf_setup_pinned(&buf, PL_MEM_XFS_SHARED, fd,
				MOCKDMA_METHOD_PIN_FAST, LT_W, &h)) {
		ksft_test_result_fail("probes-unregistered: set-up\n");
		return;
	}
	ok = !pl_inject_arm(fd, h, MOCKDMA_INJECT_WB_START, 0, 0, 0,
			    pl_page_size, &seq) &&
	     !pl_inject_arm(fd, h, MOCKDMA_INJECT_RECLAIM, 0, 0, 0,
			    pl_page_size, &seq);
	live_armed = pl_mockdma_stat("inject_probes_live");
	ok &= !pl_inject_disarm(fd, h, MOCKDMA_INJECT_WB_START, NULL);
	live_disarmed = pl_mockdma_stat("inject_probes_live");
	/* RECLAIM is still armed: retiring the handle must drop its probe. */
	ok &= !pl_unpin(fd, h, 0);
	live_unpinned = pl_mockdma_stat("inject_probes_live");
	pl_buf_teardown(&buf);
	ksft_print_msg("probes-unregistered: live probes %ld armed, %ld after one DISARM, %ld after UNPIN\n",
		       live_armed, live_disarmed, live_unpinned);
	ksft_test_result(ok && live_armed == 2 && live_disarmed == 1 &&
			 live_unpinned == 0,
			 "probes-unregistered: a point with nothing armed has no kprobe\n");
}

static void clean_release(void)
{
	int fd = open("/dev/mockdma", O_RDWR), ok, dirty = -1;
	struct pl_buf buf;
	__u32 h, seq = 0;
	__u64 f;

	if (fd < 0 || pl_buf_setup_pinned(&buf, PL_MEM_EXT4_SHARED, fd,
					  MOCKDMA_METHOD_PIN_FAST, LT_W, &h)) {
		ksft_test_result_fail("clean-release: set-up\n");
		return;
	}
	ok = !pl_fsync(buf.fd) &&
	     !pl_inject_arm(fd, h, MOCKDMA_INJECT_WB_END, 0, 1, 0,
			    pl_page_size, &seq) &&
	     !pl_inject_disarm(fd, h, MOCKDMA_INJECT_WB_END, NULL);
	close(fd);
	if (ok && !pl_page_flags(buf.addr, &f))
		dirty = !!(f & (1ULL << PL_KPF_DIRTY));
	pl_buf_teardown(&buf);
	ksft_print_msg("clean-release: page 0 %s after close\n",
		       dirty < 0 ? "unreadable" : dirty ? "dirty" : "clean");
	ksft_test_result(ok && dirty == 0,
			 "clean-release: close releases an armed, never written handle clean\n");
}

static void cyclic_ids(int fd)
{
	struct pl_buf buf;
	__u32 h1, h2;
	int ok;

	if (pl_buf_setup(&buf, PL_MEM_ANON)) {
		ksft_test_result_fail("cyclic-ids: set-up\n");
		return;
	}
	ok = !pl_pin(fd, buf.addr, buf.len, MOCKDMA_METHOD_PIN_FAST, LT_W, &h1) &&
	     !pl_unpin(fd, h1, 0) &&
	     !pl_pin(fd, buf.addr, buf.len, MOCKDMA_METHOD_PIN_FAST, LT_W, &h2);
	ok = ok && !pl_unpin(fd, h2, 0);
	pl_buf_teardown(&buf);
	ksft_test_result(ok && h2 != h1,
			 "cyclic-ids: a new pin does not reuse the id just unpinned\n");
}

static void rdonly_fd(void)
{
	static const struct { unsigned long cmd; int err; } verbs[] = {
		{ MOCKDMA_IOC_PIN, EBADF }, { MOCKDMA_IOC_UNPIN, EBADF },
		{ MOCKDMA_IOC_DMA_WRITE, EBADF },
		{ MOCKDMA_IOC_ENGINE_START, EBADF },
		{ MOCKDMA_IOC_ENGINE_STOP, EBADF },
		{ MOCKDMA_IOC_INJECT_ARM, EBADF },
		{ MOCKDMA_IOC_INJECT_DISARM, EBADF },
		{ MOCKDMA_IOC_DMA_READ, ENOENT },
		{ MOCKDMA_IOC_QUERY, ENOENT },
		{ MOCKDMA_IOC_ENGINE_STATUS, ENOENT },
	};
	char arg[256] = { 0 };
	struct pl_buf buf;
	struct mockdma_pin *pin = (void *)arg;
	unsigned int i, bad = 0;
	int fd = open("/dev/mockdma", O_RDONLY);

	if (fd < 0 || pl_buf_setup(&buf, PL_MEM_ANON)) {
		ksft_test_result_fail("rdonly-fd: set-up\n");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(verbs); i++) {
		int ret;

		memset(arg, 0, sizeof(arg));
		if (verbs[i].cmd == MOCKDMA_IOC_PIN) {
			pin->addr = (unsigned long)buf.addr;
			pin->length = buf.len;
			pin->flags = LT_W;
		} else {
			/* a well-formed request for handle 1, which this fd lacks */
			((__u32 *)arg)[0] = 1;
		}
		if (verbs[i].cmd == MOCKDMA_IOC_QUERY) {
			struct mockdma_query *q = (void *)arg;

			q->npages = 1;
		}
		if (verbs[i].cmd == MOCKDMA_IOC_DMA_READ) {
			struct mockdma_dma *d = (void *)arg;

			d->length = 16;
			d->user_buf = (unsigned long)buf.addr;
		}
		ret = pl_ioctl(fd, verbs[i].cmd, arg);
		if (ret != -verbs[i].err) {
			ksft_print_msg("rdonly-fd: ioctl %#lx: %s, want %s\n",
				       verbs[i].cmd, ret ? pl_errno_name(-ret) : "0",
				       pl_errno_name(verbs[i].err));
			bad++;
		}
	}
	close(fd);
	pl_buf_teardown(&buf);
	ksft_test_result(!bad,
			 "rdonly-fd: an O_RDONLY fd may look but not pin, write or control\n");
}

/* Drops CAP_SYS_ADMIN from this process's effective and permitted sets. */
static int drop_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[CAP_SYS_ADMIN / 32].effective &= ~(1U << (CAP_SYS_ADMIN % 32));
	data[CAP_SYS_ADMIN / 32].permitted &= ~(1U << (CAP_SYS_ADMIN % 32));
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/*
 * 1 if QUERY of page 0 of a fresh pin through a fresh fd shows a pfn (the
 * one pagemap shows), 0 if it shows 0, -1 on error.
 */
static int query_shows_pfn(int *err)
{
	struct mockdma_page_state st;
	struct pl_buf buf;
	__u64 pfn = 0;
	__u32 h;
	int fd = open("/dev/mockdma", O_RDWR), shows = -1;

	*err = 0;
	if (fd < 0 || pl_buf_setup(&buf, PL_MEM_ANON)) {
		*err = errno;
		return -1;
	}
	if (!pl_pin(fd, buf.addr, buf.len, MOCKDMA_METHOD_PIN_FAST, LT_W, &h) &&
	    !pl_query(fd, h, 0, 1, &st)) {
		shows = st.pfn != 0;
		/* With the capability, pagemap must agree with QUERY. */
		if (shows && (pl_page_pfn(buf.addr, &pfn) || pfn != st.pfn))
			shows = -1;
	}
	close(fd);
	pl_buf_teardown(&buf);
	return shows;
}

static void pfn_hidden(void)
{
	int fds[2], err, as_root = query_shows_pfn(&err), unpriv = -1, status;
	pid_t pid;

	if (pipe(fds))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (!pid) {
		int r = -1;

		close(fds[0]);
		if (!drop_sys_admin())
			r = query_shows_pfn(&err);
		if (write(fds[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &unpriv, sizeof(unpriv)) != sizeof(unpriv))
		unpriv = -1;
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	ksft_print_msg("pfn-hidden: pfn shown to root %d, without CAP_SYS_ADMIN %d\n",
		       as_root, unpriv);
	ksft_test_result(as_root == 1 && unpriv == 0,
			 "pfn-hidden: QUERY gives pfns only to a CAP_SYS_ADMIN opener\n");
}

int main(void)
{
	int fd = pl_open_or_skip();

	ksft_set_plan(6);
	inject_retry(fd);
	probes_unregistered(fd);
	clean_release();
	cyclic_ids(fd);
	rdonly_fd();
	pfn_hidden();
	close(fd);
	ksft_finished();
}
