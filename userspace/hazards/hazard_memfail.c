// SPDX-License-Identifier: GPL-2.0
/*
 * hazard_memfail (H6): memory failure on long-term pinned pages.  A page
 * of a 16-page buffer (page 3) is pinned for write by mockdma (long-term
 * FOLL_PIN, or legacy get_user_pages()) and the kernel is told the page
 * is failing, softly (MADV_SOFT_OFFLINE: migrate it away and retire the
 * frame) or hard (MADV_HWPOISON: the page is lost; unmap it from every
 * mapper, drop it from the page cache, SIGBUS whoever touches it again).
 * Issue 12, finding 6: memory-failure decides "is this a user page I can
 * handle" by PG_lru (HWPoisonHandlable(), hwpoison_user_mappings(), the
 * PageLRU() test in memory_failure()).  v1 of the series parked long-term
 * pinned folios off every LRU, so they were not handled; v2 keeps them on
 * the unevictable LRU (PG_lru set; error_states' "unevictable LRU" rows
 * use the same handlers as the LRU rows), so every kernel has one outcome.
 *
 * Memory: ext4 MAP_SHARED file, xfs MAP_SHARED file, private anonymous,
 * memfd (shmem).  The device writes all 16 pages first.
 *
 * Soft offline (in this process; it never kills): madvise()'s errno, the
 * pfn before and after, PG_hwpoison of the old frame, the device still
 * writing the same page after it, the pins balanced after the unpin.
 * madvise_inject_error() calls soft_offline_page(MF_COUNT_INCREASED) ->
 * get_hwpoison_page() -> get_any_page(): HWPoisonHandlable() (PageLRU)
 * passes on stock/base and for legacy GUP everywhere, so
 * soft_offline_in_use_page() isolates the page and migrate_pages() fails
 * on the extra references (folio_migrate_mapping()'s refcount test, or
 * page_try_share_anon_rmap() for a pinned anonymous page): EBUSY,
 * "migration failed", nothing poisoned, same pfn.  (v1, long-term: the
 * folio was parked without PG_lru: EIO, "unhandlable page".)
 *
 * Hard poison (MADV_HWPOISON -> memory_failure(MF_COUNT_INCREASED |
 * MF_SW_SIMULATED)), in a child (it may be killed): the child opens its
 * own mockdma fd, pins, lets the device write, poisons page 3, touches it
 * (a read, under a SIGBUS handler: signal and si_code), lets the device
 * write pages 4..15 and unpins; it reports all of it through a pipe.  The
 * parent (a second mapper of the file/memfd, never touching page 3) then
 * checks whether its own mapping of page 3 was unmapped, whether the
 * page cache still holds the folio (mincore() of a fresh mapping, then
 * read(2) of the page, then a touch of the fresh mapping), fsync()'s
 * return, and that every pin was released (FOLL_PIN counters balanced,
 * mockdma pages_pinned 0).  The kernel code that decides it (6.1.192,
 * mm/memory-failure.c; vm.memory_failure_early_kill 0, the default,
 * asserted: no process is signalled at poison time):
 *   stock/base, and legacy GUP everywhere: PG_lru is set, so
 *   hwpoison_user_mappings() runs: the page is dirty (the write pin's
 *   fault dirtied it), so try_to_unmap(TTU_HWPOISON) replaces every PTE
 *   with a hwpoison entry and a later touch gets SIGBUS BUS_MCEERR_AR.
 *   identify_page_state() -> me_pagecache_dirty() (mapping_set_error(EIO))
 *   -> me_pagecache_clean(): a file page is truncated from the page cache
 *   (generic_error_remove_page(), pinned or not), but has_extra_refcount()
 *   sees the pin: "still referenced", MF_FAILED, madvise EBUSY; the next
 *   read(2) reads the old bytes back from the disk (the device's data is
 *   lost) and fsync() reports EIO.  A shmem page is kept in the cache
 *   (shmem_error_remove_page()) and read(2) of it fails with EIO
 *   (shmem_file_read_iter()), also EBUSY ("still referenced" once per
 *   file or shmem page; fsync() of a memfd is noop_fsync(): 0 on every
 *   kernel).  An anonymous page needs no truncation: MF_RECOVERED,
 *   madvise 0, nothing logged.
 *   v1 of the series, long-term: the folio was parked without PG_lru, so
 *   memory_failure() skipped hwpoison_user_mappings() and ended in
 *   me_unknown(), "Unknown page state": every mapper kept its PTE, the
 *   folio stayed cached, fsync() reported success.  v2: the patched
 *   expectations are stock's, and "Unknown page state" is asserted 0.
 *   6.12 (stock612): as stock, except that madvise_inject_error() adds
 *   MF_ACTION_REQUIRED, so the poisoning process (the child, which maps
 *   the dirty page) takes SIGBUS BUS_MCEERR_AR during the madvise itself
 *   (kill_proc() for current); the child records it (poison()) and goes
 *   on.  The file cases' long-term write pins are refused (EFAULT).
 *
 * The device write into the poisoned page is NOT done: MADV_HWPOISON only
 * sets a flag (the memory itself is fine, under TCG and on real hardware),
 * so a DMA_WRITE into it would "succeed" and say nothing about a device
 * writing into failed memory, which is the real-hardware question (an MCE
 * or a poisoned TLP, not modelled here).  The device writes the other
 * pages of the pin instead, to show the pin itself still works.  The
 * kernel reads of the page that are done (the child's touch, the parent's
 * read(2)) read intact memory: software-injected poison never
 * machine-checks.
 *
 * ci/mutations: skip-fsync turns the "fsync EIO" verdicts red (the file
 * cases, every kernel), skip-device-write
 * every case (the device's bytes are each case's precondition).
 *
 * Hard poison loses the frame for the rest of the boot (memory_failure()
 * keeps the reference madvise took; freeing a PG_hwpoison page leaks it),
 * so it is done on 6 pages per run: long-term on each memory type, legacy
 * GUP on ext4 and anonymous memory.  Nothing else is affected: the files
 * are deleted, every pin is released.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "lib/pinlab.h"

#ifndef MADV_HWPOISON
#define MADV_HWPOISON		100	/* uapi asm-generic/mman-common.h */
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif
#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR		4
#endif
#define EARLY_KILL	"/proc/sys/vm/memory_failure_early_kill"

#define NP		16
#define PAGE		3	/* the failing page of the 16 */
#define OTHER		4	/* the device writes pages OTHER..NP-1 after */

static const enum pl_mem mems[] = {
	PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED, PL_MEM_ANON, PL_MEM_MEMFD,
};
#define NMEMS	(sizeof(mems) / sizeof(mems[0]))

static int bit(__u64 f, int b)
{
	return f != ~0ULL && (f >> b) & 1;
}

static long pins_expected(int p)
{
	return p == PL_PIN_LONGTERM ? NP : 0;
}

/* ---- soft offline ---- */

static void soft_case(int fd, enum pl_mem mem, int p)
{
	const struct pl_pin_kind *k = &pl_pin_kinds[p];
	const char *mname = pl_mem_name(mem);
	int want = -EBUSY;
	size_t failed, unhandlable;
	struct pl_pins c0, c1;
	__u64 pfn0, pfn1, fold;
	__u32 h = 0, seq, seq2;
	int kf, ku, ret = 1, ok;
	long pinned_after;
	struct pl_buf buf;
	char *page;

	if (pl_refused_case(fd, mem, k->method, k->flags, "soft-offline %s %s",
			    mname, k->name)) {
		printf("# MATRIX table=hazards id=H6 hazard=memfail case=soft-offline-%s-%s | outcome=REFUSED (EFAULT)\n",
		       mname, k->name);
		return;
	}
	c0 = pl_pins_now();
	ok = !pl_buf_setup_pinned(&buf, mem, fd, k->method, k->flags, &h);
	page = ok ? buf.addr + PAGE * pl_page_size : NULL;
	ok = ok && !pl_dma_write(fd, h, 0, buf.len, 0, &seq) &&
	     pl_device_wrote(&buf, h, seq) && !pl_lru_drain_all();
	pfn0 = ok ? pl_pagemap_pfn(page) : 0;
	ok = ok && pfn0;
	/* One reader per message: a read consumes the records. */
	kf = pl_kmsg_open();
	ku = pl_kmsg_open();
	if (ok)
		ret = madvise(page, pl_page_size, MADV_SOFT_OFFLINE) ? -errno : 0;
	failed = pl_kmsg_count(kf, "migration failed");
	unhandlable = pl_kmsg_count(ku, "unhandlable page");
	if (kf >= 0)
		close(kf);
	if (ku >= 0)
		close(ku);
	pfn1 = ok ? pl_pagemap_pfn(page) : 0;
	fold = pfn0 ? pl_kpageflags(pfn0) : ~0ULL;
	/* The pin and the device's access to the same page survive it. */
	ok = ok && !pl_dma_write(fd, h, PAGE * pl_page_size, pl_page_size, 0,
				 &seq2) &&
	     pl_count_stamped(page, pl_page_size, h, PAGE, seq2) == 1;
	if (h)
		ok = !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY) && ok;
	c1 = pl_pins_now();
	pinned_after = pl_mockdma_stat("pages_pinned");
	pl_buf_teardown(&buf);

	ksft_print_msg("[INFO] soft-offline %s %s: madvise %s, pfn %#llx -> %#llx, old frame hwpoison %d, log \"migration failed\" %zu \"unhandlable page\" %zu, pins +%ld/-%ld, pages_pinned %ld\n",
		       mname, k->name, ret ? pl_errno_name(-ret) : "0",
		       (unsigned long long)pfn0, (unsigned long long)pfn1,
		       bit(fold, PL_KPF_HWPOISON), failed, unhandlable,
		       c1.acq - c0.acq, c1.rel - c0.rel, pinned_after);
	printf("# MATRIX table=hazards id=H6 hazard=memfail case=soft-offline-%s-%s | outcome=%s\n",
	       mname, k->name, !ok ? "ERROR" :
	       ret == -EIO ? "EIO (unhandlable page, not migrated, not poisoned)" :
	       ret == -EBUSY ? "EBUSY (migration failed, not poisoned)" :
	       ret ? pl_errno_name(-ret) : "MIGRATED");
	ok = ok && ret == want && pfn1 == pfn0 &&
	     !bit(fold, PL_KPF_HWPOISON) &&
	     (want == -EIO ? unhandlable == 1 && !failed :
			     failed == 1 && !unhandlable) &&
	     c1.acq - c0.acq == pins_expected(p) &&
	     c1.rel - c0.rel == pins_expected(p) && pinned_after == 0;
	ksft_test_result(ok, "soft-offline %s %s: %s, same frame, not poisoned, pin intact and released\n",
			 mname, k->name, want == -EIO ?
			 "EIO (parked: not an LRU page to memory-failure)" :
			 "EBUSY (migration failed)");
}

/* ---- hard poison ---- */

static sigjmp_buf bus_env;
static volatile sig_atomic_t bus_code;
static void *volatile bus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bus_code = si->si_code;
	bus_addr = si->si_addr;
	siglongjmp(bus_env, 1);
}

/* Reads a byte at @addr: 0, or the SIGBUS si_code (> 0) it raised. */
static int touch(const char *addr, int *sigbus_at_addr)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO }, old;
	int code = 0;

	*sigbus_at_addr = 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old))
		return -errno;
	bus_code = 0;
	bus_addr = NULL;
	if (!sigsetjmp(bus_env, 1)) {
		(void)*(volatile const char *)addr;
	} else {
		code = bus_code > 0 ? bus_code : 1000;
		*sigbus_at_addr = bus_addr == addr;
	}
	sigaction(SIGBUS, &old, NULL);
	return code;
}

/*
 * 6.12's madvise_inject_error() calls memory_failure() with
 * MF_ACTION_REQUIRED (6.1: without): kill_procs() then sends the caller
 * itself, which maps the dirty page, SIGBUS BUS_MCEERR_AR at once
 * (kill_proc(): force_sig_mceerr() for t == current; collect_procs() takes
 * current with force_early), whatever vm.memory_failure_early_kill says.
 * The handler records it and returns: the signal is taken on the return
 * from madvise(), which then returns as usual.
 */
static volatile sig_atomic_t poison_code;
static void *volatile poison_addr;

static void on_poison_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	poison_code = si->si_code;
	poison_addr = si->si_addr;
}

static int madvise_hwpoison_signals_caller(void)
{
	return pl_kernel() == PL_KERNEL_STOCK612;
}

/* madvise(MADV_HWPOISON) of @page: 0 or -errno; *@code: its SIGBUS. */
static int poison(char *page, int *code, int *at_addr)
{
	struct sigaction sa = { .sa_sigaction = on_poison_sigbus,
				.sa_flags = SA_SIGINFO }, old;
	int ret;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old))
		return -errno;
	poison_code = 0;
	poison_addr = NULL;
	ret = madvise(page, pl_page_size, MADV_HWPOISON) ? -errno : 0;
	*code = poison_code;
	*at_addr = poison_addr == page;
	sigaction(SIGBUS, &old, NULL);
	return ret;
}

/* What the child saw, through the pipe. */
struct child_report {
	int setup_ok;		/* pinned, device wrote all 16 pages */
	__u32 handle, seq;	/* the device's first write */
	__u64 pfn0, pfn_after;	/* page 3 in the child's mapping */
	int hwpoison;		/* PG_hwpoison of pfn0 after the madvise */
	int madvise_ret;	/* 0 or -errno */
	int poison_code;	/* SIGBUS si_code taken in madvise, 0: none */
	int poison_at_addr;	/* ... its si_addr was page 3 */
	int touch_code;		/* 0: read fine; else SIGBUS si_code */
	int touch_at_addr;	/* si_addr was page 3 */
	int other_ok;		/* the device wrote pages 4..15 after */
	int unpin_ret;
};

static void child(struct pl_buf *buf, int p, int wfd)
{
	const struct pl_pin_kind *k = &pl_pin_kinds[p];
	struct child_report r = { .madvise_ret = 1, .unpin_ret = 1 };
	char *page = buf->addr + PAGE * pl_page_size;
	__u32 seq2;
	int fd;

	/* Private anonymous memory: the child's own copies (COW break). */
	if (buf->mem == PL_MEM_ANON)
		memset(buf->addr, 0x3c, buf->len);
	fd = open("/dev/mockdma", O_RDWR);
	r.setup_ok = fd >= 0 &&
		     !pl_pin(fd, buf->addr, buf->len, k->method, k->flags,
			     &r.handle) &&
		     !pl_dma_write(fd, r.handle, 0, buf->len, 0, &r.seq) &&
		     pl_device_wrote(buf, r.handle, r.seq) &&
		     !pl_lru_drain_all();
	r.pfn0 = pl_pagemap_pfn(page);
	if (r.setup_ok && r.pfn0) {
		r.madvise_ret = poison(page, &r.poison_code,
				       &r.poison_at_addr);
		r.hwpoison = bit(pl_kpageflags(r.pfn0), PL_KPF_HWPOISON);
		r.pfn_after = pl_pagemap_pfn(page);
		r.touch_code = touch(page, &r.touch_at_addr);
		r.other_ok = !pl_dma_write(fd, r.handle, OTHER * pl_page_size,
					   (NP - OTHER) * pl_page_size, 0,
					   &seq2) &&
			     pl_count_stamped(buf->addr + OTHER * pl_page_size,
					      (NP - OTHER) * pl_page_size,
					      r.handle, OTHER, seq2) ==
			     NP - OTHER;
	}
	/* Clean: nothing asks to write the poisoned page back. */
	if (r.handle)
		r.unpin_ret = pl_unpin(fd, r.handle, 0);
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(2);
	_exit(0);
}

/* What the parent found after the child: the page cache's view. */
struct cache_view {
	int mapped;		/* the parent's own PTE for page 3 still there */
	int resident;		/* mincore() of a fresh mapping */
	int read_ret;		/* read(2) of page 3: 0 or -errno */
	int read_device;	/* ... returned the device's stamps */
	int read_original;	/* ... returned the file's original bytes */
	int fresh_code;		/* touch of a fresh mapping: 0 or si_code */
	__u64 fresh_pfn;	/* ... the pfn it then maps (0 if none) */
	int fsync_ret;
};

static int cache_view(struct pl_buf *buf, const struct child_report *r,
		      struct cache_view *v)
{
	size_t off = PAGE * pl_page_size;
	unsigned char vec[NP];
	char *fresh, *data;
	int at;

	memset(v, 0, sizeof(*v));
	v->mapped = r->pfn0 && pl_pagemap_pfn(buf->addr + off) == r->pfn0;
	fresh = mmap(NULL, buf->len, PROT_READ, MAP_SHARED, buf->fd, 0);
	data = malloc(pl_page_size);
	if (fresh == MAP_FAILED || !data || mincore(fresh, buf->len, vec)) {
		ksft_print_msg("fresh mapping: %s\n", strerror(errno));
		free(data);
		return -1;
	}
	v->resident = vec[PAGE] & 1;
	if (pread(buf->fd, data, pl_page_size, off) == (ssize_t)pl_page_size) {
		/* pl_census() judges page 0 of what it gets: shift by hand. */
		v->read_device = pl_count_stamped(data, pl_page_size,
						  r->handle, PAGE, r->seq) == 1;
		v->read_original = 1;
		for (at = 0; at < (int)pl_page_size; at++)
			if ((unsigned char)data[at] !=
			    (unsigned char)(0xa5 ^ PAGE))
				v->read_original = 0;
	} else {
		v->read_ret = -errno;
	}
	v->fresh_code = touch(fresh + off, &at);
	if (v->fresh_code && !at)
		v->fresh_code = 1001;	/* SIGBUS elsewhere: never expected */
	v->fresh_pfn = pl_pagemap_pfn(fresh + off);
	v->fsync_ret = pl_fsync(buf->fd);
	munmap(fresh, buf->len);
	free(data);
	return 0;
}

static const char *code_name(int code)
{
	return !code ? "no signal" : code == BUS_MCEERR_AR ?
	       "SIGBUS BUS_MCEERR_AR" : "SIGBUS, other si_code";
}

/* The expected outcome of a case; see the header comment. */
struct hard_want {
	int madvise_ret, poison_sigbus, unmapped, sigbus;
	int cache_kept;		/* file/memfd: the poisoned folio stays cached */
	int read_ret, read_device, fsync_ret;
};

static struct hard_want hard_want(enum pl_mem mem)
{
	struct hard_want w = { 0 };
	int shmem = mem == PL_MEM_MEMFD;

	w.madvise_ret = mem == PL_MEM_ANON ? 0 : -EBUSY;
	/* the page is dirty (the write pin's fault): forcekill */
	w.poison_sigbus = madvise_hwpoison_signals_caller();
	w.unmapped = 1;
	w.sigbus = 1;
	w.cache_kept = shmem;
	w.read_ret = shmem ? -EIO : 0;
	w.read_device = 0;
	w.fsync_ret = shmem ? 0 : -EIO;
	return w;
}

static void hard_case(enum pl_mem mem, int p)
{
	const struct pl_pin_kind *k = &pl_pin_kinds[p];
	const char *mname = pl_mem_name(mem);
	int has_cache = mem != PL_MEM_ANON, status = 0, pfd[2], ok;
	struct hard_want w = hard_want(mem);
	struct child_report r = { 0 };
	struct cache_view v = { 0 };
	size_t unknown, referenced;
	struct pl_pins c0, c1;
	long pinned_after;
	struct pl_buf buf;
	int ku, kr;
	pid_t pid;

	if (pl_pin_refusal(mem, k->method, k->flags)) {
		int mfd = open("/dev/mockdma", O_RDWR);

		if (mfd < 0)
			ksft_exit_fail_msg("/dev/mockdma: %s\n", strerror(errno));
		pl_refused_case(mfd, mem, k->method, k->flags, "hwpoison %s %s",
				mname, k->name);
		close(mfd);
		printf("# MATRIX table=hazards id=H6 hazard=memfail case=hwpoison-%s-%s | outcome=REFUSED (EFAULT)\n",
		       mname, k->name);
		return;
	}
	ok = !pl_buf_setup(&buf, mem) && !pipe(pfd);
	if (!ok) {
		ksft_test_result_fail("hwpoison %s %s: set-up\n", mname, k->name);
		pl_buf_teardown(&buf);
		return;
	}
	ku = pl_kmsg_open();
	kr = pl_kmsg_open();
	/*
	 * Flushed before the count starts: on 6.12 a write(2) to the
	 * results share (9p over netfs) pins its user buffer with FOLL_PIN.
	 */
	fflush(stdout);
	c0 = pl_pins_now();
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		close(pfd[0]);
		child(&buf, p, pfd[1]);
	}
	close(pfd[1]);
	ok = read(pfd[0], &r, sizeof(r)) == sizeof(r);
	close(pfd[0]);
	ok = waitpid(pid, &status, 0) == pid && ok && WIFEXITED(status) &&
	     !WEXITSTATUS(status) && r.setup_ok;
	c1 = pl_pins_now();
	pinned_after = pl_mockdma_stat("pages_pinned");
	if (ok && has_cache)
		ok = !cache_view(&buf, &r, &v);
	unknown = pl_kmsg_count(ku, "Unknown page state");
	referenced = pl_kmsg_count(kr, "still referenced by");
	if (ku >= 0)
		close(ku);
	if (kr >= 0)
		close(kr);
	pl_buf_teardown(&buf);

	ksft_print_msg("[INFO] hwpoison %s %s: madvise raised %s%s\n", mname,
		       k->name, code_name(r.poison_code),
		       r.poison_code && !r.poison_at_addr ? " (elsewhere)" : "");
	ksft_print_msg("[INFO] hwpoison %s %s: child %s, madvise %s, hwpoison %d, child's pte %s, touch: %s%s, device wrote the other pages %d, unpin %s; log \"Unknown page state\" %zu \"still referenced\" %zu; pins +%ld/-%ld, pages_pinned %ld\n",
		       mname, k->name,
		       WIFEXITED(status) ? "exited" : "killed",
		       r.madvise_ret ? pl_errno_name(-r.madvise_ret) : "0",
		       r.hwpoison, !r.pfn_after ? "gone" :
		       r.pfn_after == r.pfn0 ? "kept" : "other page",
		       code_name(r.touch_code),
		       r.touch_code && !r.touch_at_addr ? " (elsewhere)" : "",
		       r.other_ok, r.unpin_ret ? pl_errno_name(-r.unpin_ret) : "0",
		       unknown, referenced, c1.acq - c0.acq, c1.rel - c0.rel,
		       pinned_after);
	if (has_cache)
		ksft_print_msg("[INFO] hwpoison %s %s: parent's pte %s, fresh mapping: resident %d, read(2) %s%s, touch %s, pfn %s; fsync %s\n",
			       mname, k->name, v.mapped ? "kept" : "gone",
			       v.resident, v.read_ret ? pl_errno_name(-v.read_ret) : "ok",
			       v.read_ret ? "" : v.read_device ? " (device's bytes)" :
			       v.read_original ? " (original bytes from disk)" : " (other bytes)",
			       code_name(v.fresh_code),
			       !v.fresh_pfn ? "none" : v.fresh_pfn == r.pfn0 ?
			       "the poisoned one" : "a new one",
			       v.fsync_ret ? pl_errno_name(-v.fsync_ret) : "0");
	printf("# MATRIX table=hazards id=H6 hazard=memfail case=hwpoison-%s-%s | outcome=%s%s%s%s\n",
	       mname, k->name,
	       !ok ? "" : r.madvise_ret ? pl_errno_name(-r.madvise_ret) : "0",
	       !ok ? "ERROR" :
	       r.pfn_after ? ", NOT HANDLED (still mapped" :
	       ", HANDLED (unmapped",
	       !ok ? "" : r.touch_code ? ", SIGBUS" : ", read without a signal",
	       !ok ? "" : !has_cache ? ")" :
	       v.resident && v.fresh_code ? ", poisoned folio still cached)" :
	       v.resident ? ", folio still cached)" : ", dropped from the cache)");

	ok = ok && r.madvise_ret == w.madvise_ret && r.hwpoison &&
	     (w.poison_sigbus ? r.poison_code == BUS_MCEERR_AR &&
				r.poison_at_addr : !r.poison_code) &&
	     !!r.pfn_after == !w.unmapped &&
	     (r.pfn_after ? r.pfn_after == r.pfn0 : 1) &&
	     (w.sigbus ? r.touch_code == BUS_MCEERR_AR && r.touch_at_addr :
			 !r.touch_code) &&
	     r.other_ok && !r.unpin_ret &&
	     c1.acq - c0.acq == pins_expected(p) &&
	     c1.rel - c0.rel == pins_expected(p) && pinned_after == 0 &&
	     unknown == 0 &&
	     referenced == (size_t)(mem != PL_MEM_ANON);
	if (ok && has_cache)
		ok = v.mapped == !w.unmapped &&
		     v.resident == w.cache_kept &&
		     v.read_ret == w.read_ret &&
		     (w.read_ret ? 1 : w.read_device ? v.read_device :
				   v.read_original) &&
		     (w.cache_kept ? v.fresh_code == BUS_MCEERR_AR :
				     !v.fresh_code && v.fresh_pfn &&
				     v.fresh_pfn != r.pfn0) &&
		     v.fsync_ret == w.fsync_ret;
	ksft_test_result(ok, "hwpoison %s %s: madvise %s%s, %s, touch %s%s\n",
			 mname, k->name,
			 w.madvise_ret ? pl_errno_name(-w.madvise_ret) : "0",
			 w.poison_sigbus ? " with SIGBUS BUS_MCEERR_AR" : "",
			 w.unmapped ? "unmapped" : "still mapped",
			 w.sigbus ? "SIGBUS BUS_MCEERR_AR" : "reads it",
			 !has_cache ? "" : w.cache_kept ?
			 ", poisoned folio stays cached" :
			 ", dropped from the page cache, fsync EIO");
}

static const struct { enum pl_mem mem; int p; } hard_cases[] = {
	{ PL_MEM_EXT4_SHARED, PL_PIN_LONGTERM },
	{ PL_MEM_XFS_SHARED, PL_PIN_LONGTERM },
	{ PL_MEM_ANON, PL_PIN_LONGTERM },
	{ PL_MEM_MEMFD, PL_PIN_LONGTERM },
	{ PL_MEM_EXT4_SHARED, PL_PIN_GUP },
	{ PL_MEM_ANON, PL_PIN_GUP },
};
#define NHARD	(sizeof(hard_cases) / sizeof(hard_cases[0]))

int main(void)
{
	int fd = pl_open_or_skip();
	char early[16] = "";
	unsigned int m, i;
	FILE *f;
	int p;

	ksft_set_plan(1 + NMEMS * PL_PIN_KINDS + NHARD);
	f = fopen(EARLY_KILL, "r");
	if (f && !fgets(early, sizeof(early), f))
		early[0] = 0;
	if (f)
		fclose(f);
	/* CONFIG_MEMORY_FAILURE, and no process signalled at poison time. */
	ksft_test_result(f && !strcmp(early, "0\n"),
			 "memory failure configured, early kill off\n");
	if (!f || strcmp(early, "0\n"))
		ksft_exit_fail_msg("%s: %s\n", EARLY_KILL,
				   f ? early : strerror(errno));
	for (m = 0; m < NMEMS; m++)
		for (p = 0; p < PL_PIN_KINDS; p++)
			soft_case(fd, mems[m], p);
	for (i = 0; i < NHARD; i++)
		hard_case(hard_cases[i].mem, hard_cases[i].p);
	close(fd);
	ksft_finished();
}
