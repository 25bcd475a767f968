// SPDX-License-Identifier: GPL-2.0
/*
 * device_contract: what mockdma's UAPI promises, on the points a review of
 * the driver found broken.  Each case failed on the driver before its fix.
 * The file cases pin long-term, or short-term where the kernel refuses a
 * long-term write pin of the file (6.5+: pl_buf_setup_device_pin() checks
 * the EFAULT first); the contract is the same.
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
 *                      pfn is 0, and GET_INFO's MOCKDMA_FEATURE_SHOW_PFN
 *                      says which of the two an fd gets.
 * seq-no-wrap          sequence numbers are 64-bit and never 0: from
 *                      debugfs seq_base 2^32 - 2, two DMA_WRITEs get
 *                      2^32 - 1 and 2^32 + 1 (2^32 is skipped, its stamps
 *                      would say 0), the stamps hold 1, QUERY's dma_writes
 *                      and the engine's last_seq are the 64-bit numbers, and
 *                      an ARM may reuse 2^32 + 1.  The 32-bit counter
 *                      wrapped to 0 (mutation seq32).
 * get-info             GET_INFO reports the header's ABI version and
 *                      constants, the page size, a jiffy between 1 and 10
 *                      ms, the kprobe and per-user memlock features, and a
 *                      max_pin_pages the PIN size check agrees with: that
 *                      many pages of an unmapped range fail in GUP (EFAULT),
 *                      one more is E2BIG.
 * gup-chunk            debugfs gup_chunk_pages (pages per GUP call, which
 *                      the pin benchmark sets to gup_test's
 *                      nr_pages_per_call) takes 1 and 8192, refuses 0, 8193
 *                      and "x" with EINVAL and keeps its value; at 7 pages
 *                      per call a 100-page PIN, locked and fast, makes 15
 *                      GUP calls (debugfs stats gup_calls_total) and takes
 *                      every page (QUERY: all 100 dma-pinned, each the pfn
 *                      pagemap shows at its address), and its UNPIN makes
 *                      15 unpin calls (unpin_calls_total).  With the knob
 *                      ignored (mutation gup-chunk-ignored) each is 1 call.
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mman.h>
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

	if (pl_buf_setup_device_pin(&buf, PL_MEM_EXT4_SHARED, fd,
				MOCKDMA_METHOD_PIN_FAST, &h)) {
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

	if (pl_buf_setup_device_pin(&buf, PL_MEM_XFS_SHARED, fd,
				MOCKDMA_METHOD_PIN_FAST, &h)) {
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

	if (fd < 0 || pl_buf_setup_device_pin(&buf, PL_MEM_EXT4_SHARED, fd,
					  MOCKDMA_METHOD_PIN_FAST, &h)) {
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
	struct mockdma_info info;

	if (!pl_pin(fd, buf.addr, buf.len, MOCKDMA_METHOD_PIN_FAST, LT_W, &h) &&
	    !pl_query(fd, h, 0, 1, &st) && !pl_info(fd, &info)) {
		shows = st.pfn != 0;
		/* GET_INFO must say the same of this fd. */
		if (!!(info.features & MOCKDMA_FEATURE_SHOW_PFN) != shows)
			shows = -1;
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

#define SEQ_BASE "/sys/kernel/debug/mockdma/seq_base"

static void seq_base_reset(void)
{
	if (pl_write_file(SEQ_BASE, "0"))
		ksft_print_msg("cannot reset %s\n", SEQ_BASE);
}

static void seq_no_wrap(int fd)
{
	struct mockdma_dma d1 = { 0 }, d2 = { 0 };
	struct mockdma_inject in = { 0 };
	struct mockdma_query q = { 0 };
	struct mockdma_engine st = { 0 };
	const struct mockdma_stamp *s;
	struct pl_buf buf;
	char base[32];
	__u32 h = 0;
	int ok;

	snprintf(base, sizeof(base), "%llu", (1ULL << 32) - 2);
	atexit(seq_base_reset);
	ok = !pl_write_file(SEQ_BASE, base) && !pl_buf_setup(&buf, PL_MEM_ANON);
	ok = ok && !pl_pin(fd, buf.addr, buf.len, MOCKDMA_METHOD_PIN_FAST,
			   LT_W, &h);
	seq_base_reset();
	d1.handle = d2.handle = h;
	d1.length = d2.length = pl_page_size;
	ok = ok && !pl_ioctl(fd, MOCKDMA_IOC_DMA_WRITE, &d1) &&
	     !pl_ioctl(fd, MOCKDMA_IOC_DMA_WRITE, &d2);
	s = (const void *)buf.addr;
	q.handle = h;
	q.npages = 1;
	q.pages = (unsigned long)&(struct mockdma_page_state){ 0 };
	ok = ok && !pl_ioctl(fd, MOCKDMA_IOC_QUERY, &q);
	in.handle = h;
	in.point = MOCKDMA_INJECT_SHRINKER;
	in.npages = 1;
	in.length = MOCKDMA_STAMP_SIZE;
	in.seq = d2.seq;
	ok = ok && !pl_ioctl(fd, MOCKDMA_IOC_INJECT_ARM, &in) &&
	     !pl_inject_disarm(fd, h, MOCKDMA_INJECT_SHRINKER, NULL);
	/* One engine pass over page 1: its number follows. */
	ok = ok && !pl_engine_start(fd, h, 1, 1, 0, 0) &&
	     !pl_engine_wait(fd, h, &st, 1, 5000) &&
	     !pl_engine_stop(fd, h, &st);
	ksft_print_msg("seq-no-wrap: DMA_WRITE seqs %#llx %#llx, stamp seq %u, QUERY dma_writes %#llx, ARM reused %#llx, engine last_seq %#llx\n",
		       (unsigned long long)d1.seq, (unsigned long long)d2.seq,
		       h ? s->seq : 0, (unsigned long long)q.dma_writes,
		       (unsigned long long)in.seq,
		       (unsigned long long)st.last_seq);
	ok = ok && d1.seq == (1ULL << 32) - 1 && d2.seq == (1ULL << 32) + 1 &&
	     s->seq == 1 && q.dma_writes == d2.seq && in.seq == d2.seq &&
	     st.last_seq > d2.seq && (__u32)st.last_seq != 0;
	if (h && pl_unpin(fd, h, 0))
		ok = 0;
	pl_buf_teardown(&buf);
	ksft_test_result(ok,
			 "seq-no-wrap: sequence numbers are 64-bit and skip 0 in their low half\n");
}

static void get_info(int fd)
{
	struct mockdma_pin p = {
		.addr = 1ULL << 32, .flags = MOCKDMA_PIN_WRITE,
	};
	struct mockdma_info info;
	int ok, at_max = 0, above = 0;

	ok = !pl_info(fd, &info);
	if (ok) {
		p.length = info.max_pin_pages * pl_page_size;
		at_max = pl_ioctl(fd, MOCKDMA_IOC_PIN, &p);
		p.length += pl_page_size;
		above = pl_ioctl(fd, MOCKDMA_IOC_PIN, &p);
	}
	ksft_print_msg("get-info: abi %u features %#llx max_pin_pages %llu (PIN of that many unmapped: %s, one more: %s) max_fd_pages %llu inject %u pages %u points, tick %u us, page %u, stamp %u\n",
		       info.abi_version, (unsigned long long)info.features,
		       (unsigned long long)info.max_pin_pages,
		       pl_errno_name(-at_max), pl_errno_name(-above),
		       (unsigned long long)info.max_fd_pages,
		       info.inject_max_pages, info.inject_points, info.tick_us,
		       info.page_size, info.stamp_size);
	ok = ok && info.abi_version == MOCKDMA_ABI_VERSION &&
	     info.page_size == pl_page_size &&
	     info.stamp_size == MOCKDMA_STAMP_SIZE &&
	     info.inject_max_pages == MOCKDMA_INJECT_MAX_PAGES &&
	     info.inject_points == MOCKDMA_INJECT_COUNT &&
	     info.engine_max_interval_us == MOCKDMA_ENGINE_MAX_INTERVAL_US &&
	     info.tick_us >= 1000 && info.tick_us <= 10000 &&
	     (info.features & MOCKDMA_FEATURE_INJECT_KPROBES) &&
	     (info.features & MOCKDMA_FEATURE_MEMLOCK_USER) &&
	     info.max_fd_pages >= info.max_pin_pages &&
	     at_max == -EFAULT && above == -E2BIG;
	ksft_test_result(ok,
			 "get-info: GET_INFO reports the ABI, the limits the driver applies and its features\n");
}

#define CHUNK_PIN_PAGES 100
#define CHUNK 7
#define CHUNK_CALLS ((CHUNK_PIN_PAGES + CHUNK - 1) / CHUNK)

/* Writing @v: its errno, and whether the knob then reads @expect. */
static int gup_chunk_write(const char *v, int err, long expect)
{
	int ret = pl_write_file(PL_GUP_CHUNK, v);
	long now = pl_read_long(PL_GUP_CHUNK);

	if (ret != err || now != expect)
		ksft_print_msg("gup-chunk: writing \"%s\": %s, reads %ld (expected %s, %ld)\n",
			       v, ret ? strerror(-ret) : "ok", now,
			       err ? strerror(-err) : "ok", expect);
	return ret == err && now == expect;
}

/*
 * One PIN of @addr's 100 pages by @method, QUERY'd, UNPIN'd: 1 if every
 * page is pinned and is the page mapped at its address (pfns: root), and
 * the PIN and the UNPIN each made CHUNK_CALLS calls.
 */
static int chunked_pin(int fd, char *addr, __u32 method)
{
	struct mockdma_page_state st[CHUNK_PIN_PAGES];
	long gup0 = pl_mockdma_stat("gup_calls_total"), gup;
	long unpin0 = pl_mockdma_stat("unpin_calls_total"), unpin;
	int i, pinned = 0, same = 0, ok, ret;
	__u32 h;

	ret = pl_pin(fd, addr, CHUNK_PIN_PAGES * pl_page_size, method, LT_W,
		     &h);
	if (ret) {
		ksft_print_msg("gup-chunk: PIN (method %u): %s\n", method,
			       strerror(-ret));
		return 0;
	}
	gup = pl_mockdma_stat("gup_calls_total") - gup0;
	ok = !pl_query(fd, h, 0, CHUNK_PIN_PAGES, st);
	for (i = 0; ok && i < CHUNK_PIN_PAGES; i++) {
		pinned += !!(st[i].flags & MOCKDMA_PAGE_DMA_PINNED);
		same += st[i].pfn &&
			st[i].pfn == pl_pagemap_pfn(addr + i * pl_page_size);
	}
	ok = !pl_unpin(fd, h, 0) && ok;
	unpin = pl_mockdma_stat("unpin_calls_total") - unpin0;
	ksft_print_msg("gup-chunk: method %u: %ld GUP calls, %ld unpin calls, %d of %d pages dma-pinned, %d at their address\n",
		       method, gup, unpin, pinned, CHUNK_PIN_PAGES, same);
	return ok && gup == CHUNK_CALLS && unpin == CHUNK_CALLS &&
	       pinned == CHUNK_PIN_PAGES && same == CHUNK_PIN_PAGES;
}

static void gup_chunk(int fd)
{
	size_t len = CHUNK_PIN_PAGES * pl_page_size;
	long before = pl_read_long(PL_GUP_CHUNK);
	char *addr = MAP_FAILED, v[32];
	int ok = before > 0;

	ok = ok && gup_chunk_write("1", 0, 1) &&
	     gup_chunk_write("8192", 0, 8192) &&
	     gup_chunk_write("0", -EINVAL, 8192) &&
	     gup_chunk_write("8193", -EINVAL, 8192) &&
	     gup_chunk_write("x", -EINVAL, 8192);
	if (ok)
		addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok = ok && addr != MAP_FAILED;
	if (ok)
		memset(addr, 0x5a, len);
	snprintf(v, sizeof(v), "%d", CHUNK);
	ok = ok && gup_chunk_write(v, 0, CHUNK);
	ok = ok && chunked_pin(fd, addr, MOCKDMA_METHOD_PIN);
	ok = ok && chunked_pin(fd, addr, MOCKDMA_METHOD_PIN_FAST);
	if (addr != MAP_FAILED)
		munmap(addr, len);
	/* put back what it was, whatever failed */
	if (before > 0) {
		snprintf(v, sizeof(v), "%ld", before);
		ok = gup_chunk_write(v, 0, before) && ok;
	}
	ksft_test_result(ok,
			 "gup-chunk: the GUP call size is bounded 1..8192 and a PIN in 7-page calls makes 15 calls each way and is whole\n");
}

int main(void)
{
	int fd = pl_open_or_skip();

	ksft_set_plan(9);
	inject_retry(fd);
	probes_unregistered(fd);
	clean_release();
	cyclic_ids(fd);
	rdonly_fd();
	pfn_hidden();
	seq_no_wrap(fd);
	get_info(fd);
	gup_chunk(fd);
	close(fd);
	ksft_finished();
}
