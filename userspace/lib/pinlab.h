/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pinlab test library: /dev/mockdma ioctl wrappers (0 or -errno), memory
 * backings for the pin tests, and the checks that read what reached the disk.
 */
#ifndef PINLAB_LIB_H
#define PINLAB_LIB_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest.h"
#include "pl_oracle.h"
#include "uapi/mockdma.h"

extern size_t pl_page_size;

enum pl_mem {
	PL_MEM_ANON,
	PL_MEM_THP,
	PL_MEM_MEMFD,
	PL_MEM_HUGETLB,
	PL_MEM_EXT4_SHARED,
	PL_MEM_EXT4_PRIVATE,
	PL_MEM_XFS_SHARED,
	PL_MEM_XFS_PRIVATE,
	PL_MEM_COUNT
};

struct pl_buf {
	enum pl_mem mem;
	char *addr;		/* what tests pin */
	size_t len;
	void *map;		/* what to munmap */
	size_t map_len;
	int fd;			/* backing file or memfd, -1 for anon */
	char path[256];		/* file on ext4/xfs, "" otherwise */
};

/*
 * The two ways of holding pages the scenarios compare: a long-term FOLL_PIN
 * write pin (what correct RDMA/GPU drivers do) and legacy get_user_pages()
 * (a plain reference, invisible to folio_maybe_dma_pinned()).
 */
struct pl_pin_kind {
	const char *name;
	__u32 method, flags;
};

#define PL_PIN_KINDS	2
#define PL_PIN_LONGTERM	0	/* index in pl_pin_kinds[] */
#define PL_PIN_GUP	1
extern const struct pl_pin_kind pl_pin_kinds[PL_PIN_KINDS];

const char *pl_mem_name(enum pl_mem mem);
int pl_mem_is_file(enum pl_mem mem);		/* ext4/xfs, shared or private */
int pl_mem_is_private_file(enum pl_mem mem);
/* 0, -EOPNOTSUPP when the backing is absent here (no hugetlb pages), -errno */
int pl_buf_setup(struct pl_buf *buf, enum pl_mem mem);
/* The same with @len bytes (page multiple; THP and hugetlb stay 2 MiB). */
int pl_buf_setup_len(struct pl_buf *buf, enum pl_mem mem, size_t len);
void pl_buf_teardown(struct pl_buf *buf);
/* pl_buf_setup() + pl_pin() of the whole buffer; torn down on failure. */
int pl_buf_setup_pinned(struct pl_buf *buf, enum pl_mem mem, int fd,
			__u32 method, __u32 flags, __u32 *handle);

/* Prints the KTAP header; skips the program without /dev/mockdma or root. */
int pl_open_or_skip(void);
int pl_pin(int fd, void *addr, size_t len, __u32 method, __u32 flags,
	   __u32 *handle);
/* UNPIN; MUTATE=clean-unpin drops MOCKDMA_UNPIN_DIRTY from @flags. */
int pl_unpin(int fd, __u32 handle, __u32 flags);
/* fsync(2), 0 or -errno; MUTATE=skip-fsync makes it a no-op. */
int pl_fsync(int fd);
/* 1 if $PINLAB_MUTATE names @name (see ci/mutations). */
int pl_mutated(const char *name);
/*
 * The precondition of every data verdict: the whole mapping holds the
 * device's write (handle, page, seq) now.  1 or 0 (with a diagnostic).
 */
int pl_device_wrote(struct pl_buf *buf, __u32 handle, __u32 seq);
/* *seq (if non-NULL) gets the write's seq as its stamps hold it (low half). */
int pl_dma_write(int fd, __u32 handle, __u64 off, __u64 len, __u32 flags,
		 __u32 *seq);
int pl_dma_read(int fd, __u32 handle, __u64 off, __u64 len, void *dst);
int pl_query(int fd, __u32 handle, __u64 first, __u64 n,
	     struct mockdma_page_state *st);
int pl_ioctl(int fd, unsigned long cmd, void *arg);
/*
 * MOCKDMA_IOC_GET_INFO: the driver's ABI version, limits and features (what
 * the tests use instead of reading module parameters).  0 or -errno.
 */
int pl_info(int fd, struct mockdma_info *info);

/*
 * Fills @len bytes with the stamps mockdma writes, as (@tag, page, @seq):
 * what a real device (rxe, io_uring) is made to write in the tests.
 */
void pl_fill_stamps(void *buf, size_t len, __u32 tag, __u32 seq);
/* Pages of buf (from page 0 of the pin) fully stamped with handle/seq. */
size_t pl_count_stamped(const void *buf, size_t len, __u32 handle,
			__u32 first_page, __u32 seq);
/*
 * The same for the file's bytes on disk (the oracle's block-device read,
 * pl_disk_read()).  A disk that cannot be read ends the program as failed.
 */
size_t pl_disk_stamped(struct pl_buf *buf, __u32 handle, __u32 seq);
/* The file on disk still holds the pattern pl_buf_setup() wrote. */
int pl_disk_is_original(struct pl_buf *buf);

/* The asynchronous engine (whole pages [first, first + n), n 0: to the end). */
int pl_engine_start(int fd, __u32 handle, __u64 first, __u64 n,
		    __u32 interval_us, __u32 flags);
/* Stops the engine; *st (if non-NULL) gets its final status. */
int pl_engine_stop(int fd, __u32 handle, struct mockdma_engine *st);
/*
 * Waits until the engine has completed @more passes beyond *st's (polling
 * STATUS), at most @timeout_ms; *st gets the latest status.  0 or -ETIME.
 */
int pl_engine_wait(int fd, __u32 handle, struct mockdma_engine *st,
		   unsigned int more, unsigned int timeout_ms);
/*
 * Arms pages [first, first + n) at point; *seq in: 0 or a seq to reuse, out:
 * the seq armed, as stamps hold it (the tests' handles stay below 2^32).
 */
int pl_inject_arm(int fd, __u32 handle, __u32 point, __u64 first, __u64 n,
		  __u32 offset, __u32 length, __u32 *seq);
/* Disarms point; *fired (if non-NULL) gets the pages that fired there. */
int pl_inject_disarm(int fd, __u32 handle, __u32 point, __u64 *fired);

/*
 * What each page of a pinned file holds, from the disk or the cache:
 * @fresh    every stamp is (handle, page, seq) for the seq asked about
 * @original untouched since pl_buf_setup() wrote the file
 * @older    whole page from one other, earlier device write
 * @torn     anything else: stamps of two writes, or stamps and original
 *           bytes, in one page
 */
struct pl_census {
	size_t fresh, original, older, torn;
	size_t eio;	/* read failed with EIO (pl_drop_cache_census_pages()) */
};

void pl_census(const void *data, size_t len, __u32 handle, __u32 seq,
	       struct pl_census *c);
/* Adds page @index of the pin, its bytes at @page, to *@c. */
void pl_census_page(const void *page, size_t index, __u32 handle, __u32 seq,
		    struct pl_census *c);
/* What all np pages hold, or PL_MIXED when they disagree. */
enum pl_state { PL_FRESH, PL_ORIGINAL, PL_TORN, PL_OLDER, PL_MIXED };
extern const char *const pl_state_name[];
enum pl_state pl_census_state(const struct pl_census *c, size_t np);
/*
 * The matrix's words into @t: OK, EIO (n), TORN (n) or <@missing> (n), n
 * in pages.
 */
const char *pl_census_outcome(const struct pl_census *c, size_t np,
			      const char *missing, char *t, size_t size);
/*
 * The buffer-stripping sequence (buffers_stripped, hazard_fsvariants) on
 * a pinned file buffer: fsync cleans it, PG_private is counted, MADV_PAGEOUT
 * lets reclaim strip a clean page's buffers (asked up to three times while
 * it still strips some), PG_private is counted again,
 * the device writes every page, then the unpin (dirtying or clean) and an
 * fsync.  1 if every step succeeded and the device's write was in the
 * mapping before the unpin, else 0.
 */
int pl_pageout_write_unpin(int fd, struct pl_buf *buf, __u32 handle,
			   int dirty, __u32 *seq, size_t *priv_before,
			   size_t *priv_after);
/* Pages (at most 64) of a handle whose folio has PG_private (QUERY). */
int pl_count_private(int fd, __u32 handle, size_t np, size_t *n);
/* Census of the file's bytes on disk (block device); fails the program if unreadable. */
int pl_disk_census(struct pl_buf *buf, __u32 handle, __u32 seq,
		   struct pl_census *c);
/* Census of what the buffer's mapping holds now (the device's view); 0 or -errno. */
int pl_cache_census(struct pl_buf *buf, __u32 handle, __u32 seq,
		    struct pl_census *c);
/*
 * Unmaps buf, evicts the clean page cache without writing anything back
 * (pl_cache_evict_clean()) and takes the census of what read(2) returns
 * then: what the kernel kept.
 */
int pl_drop_cache_census(struct pl_buf *buf, __u32 handle, __u32 seq,
			 struct pl_census *c);
/*
 * The same, page by page with one read(2) each, for a file under a layer
 * that checks its data (btrfs checksums, dm-integrity): a page whose read
 * fails with EIO counts in @c->eio, the others in the census.  Any other
 * read error fails (-errno).
 */
int pl_drop_cache_census_pages(struct pl_buf *buf, __u32 handle, __u32 seq,
			       struct pl_census *c);

/*
 * Which kernel this is, from the kernel itself (release string,
 * /proc/version, /proc/kallsyms; never from a sysctl a test can flip):
 * stock (Debian's 6.1), base (our build without the series), patched (our
 * build with it), stock612 (Debian's 6.12).  A user kernel (make check
 * KERNELS=/path) returns the value whose expectations it takes: patched if
 * the series is in it, else stock up to 6.4 and stock612 from 6.5; its name
 * is then user-patched, user-6.1 or user-6.12.  Fails the program if
 * $PINLAB_KERNEL, set by the harness from the label it booted, disagrees.
 */
enum pl_kernel {
	PL_KERNEL_STOCK, PL_KERNEL_BASE, PL_KERNEL_PATCHED, PL_KERNEL_STOCK612
};
enum pl_kernel pl_kernel(void);
/* The name of pl_kernel() as the harness labels it ("stock", "user-6.12"). */
const char *pl_kernel_name(void);
/* pl_kernel() == PL_KERNEL_PATCHED: the tests' expectations are keyed by this. */
int pl_kernel_patched(void);
/* Debian's build (stock, stock612): Debian's config, not pinlab-guest.config. */
int pl_kernel_debian(void);
/* Our build (base, patched): ci/kernel/pinlab-guest.config. */
int pl_kernel_ours(void);
/* Neither: a kernel the user built (its config holds ci/kernel/pinlab-suite.config). */
int pl_kernel_user(void);
/* The series' code is in this kernel (booted on or off). */
int pl_kernel_has_series(void);
/*
 * The kernel refuses a long-term writable FOLL_PIN of a MAP_SHARED mapping
 * that needs dirty tracking (ext4, xfs), with EFAULT.  From 6.5 (stock612,
 * and a user kernel by its version):
 * check_vma_flags() in mm/gup.c returns -EFAULT when
 * writable_file_mapping_allowed() is false, that is for
 * FOLL_PIN|FOLL_LONGTERM of a vma_needs_dirty_tracking() vma (mm/vma.c: a
 * shared writable vma with ->page_mkwrite, or whose filesystem writes
 * back); pin_user_pages_fast() leaves its fast path first
 * (gup_fast_folio_allowed()) and the slow path refuses.  Not refused:
 * short-term FOLL_PIN, legacy FOLL_GET, read-only pins, MAP_PRIVATE (the
 * COW copy is anonymous), shmem/memfd/hugetlbfs (no writeback).  On 6.1 the
 * pin succeeds: the problem pinlab reproduces.
 */
int pl_kernel_refuses_longterm_file_write(void);
/*
 * ext4 data=journal as reworked in 6.5 (stock612): ext4_do_writepages()
 * commits, then writes the pages out to their home blocks, and a folio
 * dirtied behind ext4's back is journalled only if it is dma-pinned
 * (ext4_journalled_dirty_folio(): PG_checked if folio_maybe_dma_pinned()).
 * On 6.1 the commit re-exposes the journalled buffers to writeback
 * (mark_buffer_dirty() in __jbd2_journal_unfile_buffer()), whatever
 * holds the page.
 */
int pl_ext4_journal_pins_only(void);
/*
 * The errno this kernel refuses a @method pin of @mem with @flags with
 * (the rule above: EFAULT for a FOLL_PIN method with LONGTERM|WRITE of an
 * ext4/xfs MAP_SHARED mapping on stock612), 0 where it pins.
 */
int pl_pin_refusal(enum pl_mem mem, __u32 method, __u32 flags);
/*
 * Pins @buf with @method/@flags and checks the outcome against
 * pl_pin_refusal() (unpinning what it got): 1 as the rule says, else 0
 * with a message.
 */
int pl_check_refused(int fd, struct pl_buf *buf, __u32 method, __u32 flags);
/*
 * A scenario case whose pin this kernel refuses (pl_pin_refusal()): checks
 * the refusal on a fresh @mem buffer (pl_refusal_checked(): -1 where the
 * kernel pins, else 1 if it refused as the rule says, 0 if not) and, if
 * refused, reports the case as "<name>: REFUSED (<errno>)", <name>
 * printf-formatted from the arguments after @flags; true then.  False,
 * doing nothing, where the kernel pins: the caller runs the case.  A macro
 * so that the result counts in the calling program's kselftest.h
 * counters (they are static to each file).
 */
int pl_refusal_checked(int fd, enum pl_mem mem, __u32 method, __u32 flags,
		       const char *name);
#define pl_refused_case(fd, mem, method, flags, ...) ({			\
	char pl_rc_name_[256];							\
	int pl_rc_ok_;								\
										\
	snprintf(pl_rc_name_, sizeof(pl_rc_name_), __VA_ARGS__);		\
	pl_rc_ok_ = pl_refusal_checked(fd, mem, method, flags, pl_rc_name_);	\
	if (pl_rc_ok_ >= 0)							\
		ksft_test_result(pl_rc_ok_, "%s: REFUSED (%s)\n", pl_rc_name_,	\
				 pl_errno_name(pl_pin_refusal(mem, method, flags))); \
	pl_rc_ok_ >= 0;								\
})
/*
 * The write pin the device's own tests take of @mem: LONGTERM|WRITE where
 * the kernel grants it, else a short-term FOLL_WRITE pin (still allowed).
 */
__u32 pl_device_write_flags(enum pl_mem mem, __u32 method);
/*
 * pl_buf_setup() and a pl_device_write_flags() pin; where the long-term
 * pin is refused, first checks the refusal (pl_check_refused(); -EPROTO if
 * the kernel did otherwise).  0 or -errno, the buffer torn down on error.
 */
int pl_buf_setup_device_pin(struct pl_buf *buf, enum pl_mem mem, int fd,
			    __u32 method, __u32 *handle);
/* Writes a string to a /proc or /sys file; 0 or -errno. */
int pl_write_file(const char *path, const char *val);
/* A /proc, /sys or debugfs file's leading decimal number, or -1. */
long pl_read_long(const char *path);

/* A sysctl or sysfs knob and the value a program wants it at. */
struct pl_knob {
	const char *path, *val;
};
/*
 * Sets each of @n knobs for the rest of the program; the values found are
 * written back by pl_knobs_restore(), which also runs at exit (in the
 * process that set them, not a forked child), last set first.  Of the
 * vm.dirty_*bytes / *ratio pairs, which zero each other, the one found in
 * force is what is written back; a choice list ("always [madvise] never")
 * is saved as its selected word.  0, or -errno with nothing this call
 * set left changed (said why).
 */
int pl_knobs_set(const struct pl_knob *k, size_t n);
void pl_knobs_restore(void);
/* mockdma's pages per GUP call (debugfs, driver/mockdma_debugfs.c) */
#define PL_GUP_CHUNK "/sys/kernel/debug/mockdma/gup_chunk_pages"

/* The pfn mapped at @addr now (/proc/self/pagemap), 0 if none. */
__u64 pl_pagemap_pfn(const void *addr);
/*
 * /proc/kpageflags bits the tests read (include/uapi/linux/kernel-page-flags.h
 * and include/linux/kernel-page-flags.h; 27 is the series').  The series
 * keeps a long-term pinned folio on the unevictable LRU, which in 6.1 is a
 * count and not a list: PG_lru stays set, so "on an LRU list reclaim scans"
 * is LRU without UNEVICTABLE.  pl_kpf_census() also tallies two pseudo-bits
 * (kpageflags never sets 62 and 63) for what the tests ask:
 *   PL_KPF_ON_LRU_LIST  KPF_LRU and not KPF_UNEVICTABLE
 *   PL_KPF_PARKED       KPF_DMA_PINNED, KPF_UNEVICTABLE and KPF_LRU
 */
enum pl_kpf {
	PL_KPF_DIRTY		= 4,
	PL_KPF_LRU		= 5,
	PL_KPF_WRITEBACK	= 8,
	PL_KPF_UNEVICTABLE	= 18,
	PL_KPF_HWPOISON		= 19,
	PL_KPF_THP		= 22,
	PL_KPF_DMA_PINNED	= 27,
	PL_KPF_MLOCKED		= 33,
	PL_KPF_ON_LRU_LIST	= 62,
	PL_KPF_PARKED		= 63,
};
/* The pseudo-bits of one kpageflags word, added to it. */
__u64 pl_kpf_with_pseudo(__u64 f);
/*
 * Pages long-term pinned now by the series' count (vmstat dma_pin_park -
 * dma_pin_unpark); -1 on a kernel without the series.
 */
long pl_series_pinned_pages(void);

/*
 * /proc/kpageflags of the folio holding @pfn: a tail page's own word lacks
 * LRU and the other folio flags, so the head's word is returned for it.
 * ~0 if unreadable.
 */
__u64 pl_kpageflags(__u64 pfn);
/*
 * The kpageflags words of the folios behind the @np pages mapped at @addr,
 * tallied: counts[b] = pages whose folio has bit b.  0, or -EIO if a page is
 * not mapped or its word unreadable.
 */
int pl_kpf_census(const void *addr, size_t np, size_t counts[64]);
/*
 * Flushes every CPU's LRU folio batches (lru_add_drain_all()) without
 * migrating anything; needs the ext4 mount.  0 or -errno.
 */
int pl_lru_drain_all(void);

/* The multi-gen LRU's switch (CONFIG_LRU_GEN; off by default on 6.1). */
#define PL_LRU_GEN	"/sys/kernel/mm/lru_gen/enabled"
/*
 * Switches the multi-gen LRU on or off and checks that it took; 0 or -errno.
 * Switched back off (its boot state) when the program exits.
 */
int pl_lru_gen_switch(int on);
/* The series' switch (patched kernel only); back on (its boot state) at exit. */
#define PL_SERIES_SWITCH	"/proc/sys/vm/dma_pin_lru"
int pl_series_switch(int on);
/*
 * 1 if the series is in the kernel and was booted on (dma_pin_lru=on): its
 * switch takes writes (booted without the parameter it reads 0 and refuses
 * them with EOPNOTSUPP).  Leaves the switch on.
 */
int pl_series_live(void);

/* /dev/kmsg positioned at its end, to count what a test provokes; -1 if absent. */
int pl_kmsg_open(void);
/* Kernel log records written since pl_kmsg_open() that contain @needle. */
size_t pl_kmsg_count(int kmsg, const char *needle);

/*
 * A cgroup v2 memory cgroup for pressure scenarios: created under
 * /sys/fs/cgroup with memory.max = @max_bytes, the calling process moved
 * into it (children inherit it).  pl_memcg_leave() moves it back to the root
 * and removes the group.
 */
struct pl_memcg {
	char path[256];
};

int pl_memcg_enter(struct pl_memcg *cg, const char *name, long max_bytes);
/* A "key value" field of the group's memory.stat; -1 if absent. */
long pl_memcg_stat(struct pl_memcg *cg, const char *key);
void pl_memcg_leave(struct pl_memcg *cg);

/*
 * Runs workloads/<script> with @argv (NULL terminated, without the script)
 * and waits for it: the pressure generators shared with the fio and RDMA
 * tests.  Returns its exit status, or -errno.
 */
int pl_workload(const char *script, const char *const *argv);

/*
 * Runs @argv (argv[0] an absolute path) with its stdout and stderr in the
 * file @log, and waits for it.  0 if it exited 0; otherwise -errno or
 * -EIO, with the log printed as diagnostics.
 */
int pl_run(const char *const *argv, const char *log);
/*
 * Loads kernel module @name in the guest if @present does not exist yet
 * (a path the module makes: "/dev/loop-control", "/sys/module/btrfs"):
 * through the harness's modprobe wrapper (/run/pinlab/modprobe, which
 * knows the booted kernel's modules), else /sbin/modprobe.  Our own
 * kernels build in what the suite needs, so there a missing @present
 * fails the program (a config regression), as does a failed modprobe on
 * stock; a module built into a user's kernel (modules.builtin) counts as
 * present even where it has no @present (/sys/module/<name> only exists
 * for a built-in module with parameters); returns only on success.
 */
void pl_need_module(const char *name, const char *present);
/*
 * A sparse file of @bytes at @image (created, must not exist) attached to
 * a free loop device (LOOP_CTL_GET_FREE + LOOP_CONFIGURE): its path into
 * @dev, its open fd into *@loop_fd.  0 or -errno, with a diagnostic; on
 * error nothing stays attached (the image is left for the caller to
 * unlink).  pl_loop_detach() undoes it.
 */
int pl_loop_attach(const char *image, unsigned long long bytes, char *dev,
		   size_t size, int *loop_fd);
/* LOOP_CLR_FD and close of *@loop_fd (0 after); 0 or -errno. */
int pl_loop_detach(const char *dev, int *loop_fd);
/* A directory for sparse images: /dev/shm if it is a tmpfs, else /tmp. */
const char *pl_image_dir(void);

/* /proc/vmstat counter after vm/stat_refresh; -1 if absent. */
long pl_vmstat(const char *name);
/* mockdma debugfs stats value; -1 if absent. */
long pl_mockdma_stat(const char *name);
/* The FOLL_PIN counters of /proc/vmstat, read together. */
struct pl_pins {
	long acq, rel;	/* nr_foll_pin_acquired, nr_foll_pin_released */
};
struct pl_pins pl_pins_now(void);
const char *pl_errno_name(int err);
/* 1 if the @n bytes at @p are all zero (a hole, a truncated page). */
int pl_all_zero(const void *p, size_t n);
/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
long pl_now_ms(void);

#endif
