/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mockdma: a mock DMA device that long-term pins user memory through GUP the
 * way RDMA and GPU drivers do, and performs fake device writes/reads into the
 * pinned pages.  This header is the whole ABI of /dev/mockdma; it is shared by
 * the driver (driver/) and the tests (userspace/).
 *
 * All structures use explicit-width fields, are naturally aligned and a
 * multiple of 8 bytes, so i386 and x86-64 callers see the same layout.
 * Every structure has a flags word; unknown flag bits and non-zero pad or
 * reserved fields, and non-zero inputs a verb does not take, are rejected
 * with -EINVAL so they can be given a meaning later.  (out) fields are
 * ignored on input.  Unknown ioctl commands return -ENOTTY.  Flag values
 * are written in hex rather than with BIT(), which is not exported to
 * userspace.
 *
 * Errors: each verb's MOCKDMA_ERRNOS_<VERB> below lists every errno it can
 * return, with its reasons: the one list, read by the tests
 * (userspace/device/ioctl_fuzz.c checks each refused call against it).
 * A verb fails with -1 and one of them in errno, and then changed nothing
 * unless its list says otherwise.
 *
 * Sequence numbers are 64-bit everywhere in the ABI, per handle, from 1,
 * and never 0: a number whose low 32 bits are 0 is skipped, so the 32-bit
 * seq of a stamp (its low half) is never 0 either.
 *
 * Signals: PIN, DMA_WRITE, DMA_READ and QUERY over a large range stop
 * between two pages on a fatal signal (SIGKILL) with -EINTR, which the
 * dying process never sees; a non-fatal signal does not interrupt them (no
 * -EINTR, no restart).  The pages a DMA_WRITE stamped before it stopped
 * keep their stamps and count as written (see MOCKDMA_UNPIN_DIRTY).
 * Verbs that wait for a lock give -EINTR on a fatal signal too.
 *
 * The verbs that pin, write or control (PIN, UNPIN, DMA_WRITE, ENGINE_START,
 * ENGINE_STOP, INJECT_ARM, INJECT_DISARM) need an fd opened for writing and
 * return -EBADF on one opened O_RDONLY, as write(2) does; DMA_READ, QUERY
 * and ENGINE_STATUS work on either.  Handle ids are allocated cyclically per
 * fd: within one fd an id is not reused until the 32-bit space wraps, so a
 * stamp left on disk by an unpinned handle never names a later handle of
 * the same fd (each new fd starts again at 1).
 */
#ifndef _UAPI_MOCKDMA_H
#define _UAPI_MOCKDMA_H

#include <linux/errno.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/* 0xB8 is unassigned in Documentation/userspace-api/ioctl/ioctl-number.rst */
#define MOCKDMA_IOC_MAGIC	0xB8

/* How MOCKDMA_IOC_PIN acquires the pages (struct mockdma_pin.method). */
enum mockdma_pin_method {
	/* pin_user_pages_fast(): lockless walk first, slow path on a miss */
	MOCKDMA_METHOD_PIN_FAST		= 0,
	/* pin_user_pages() with mmap_read_lock held by the driver */
	MOCKDMA_METHOD_PIN		= 1,
	/*
	 * pin_user_pages_unlocked(): GUP takes and may drop mmap_lock.  On
	 * 6.1, get_user_pages_unlocked() WARNs on FOLL_LONGTERM and fails, so
	 * the driver refuses MOCKDMA_PIN_LONGTERM with this method: -EINVAL.
	 */
	MOCKDMA_METHOD_PIN_UNLOCKED	= 2,
	/*
	 * Legacy get_user_pages() (FOLL_GET, a plain page reference) under
	 * mmap_read_lock, as pre-5.6 drivers did.  The pages are not visible
	 * to folio_maybe_dma_pinned().  6.1 rejects FOLL_LONGTERM without
	 * FOLL_PIN (is_valid_gup_flags() would WARN), so the driver refuses
	 * MOCKDMA_PIN_LONGTERM with this method: -EINVAL.
	 */
	MOCKDMA_METHOD_GUP		= 3,
	MOCKDMA_METHOD_COUNT
};

/* struct mockdma_pin.flags */
#define MOCKDMA_PIN_LONGTERM	0x1U	/* FOLL_LONGTERM */
#define MOCKDMA_PIN_WRITE	0x2U	/* FOLL_WRITE: device may write */
#define MOCKDMA_PIN_VALID	(MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)

/**
 * struct mockdma_pin - MOCKDMA_IOC_PIN argument
 * @addr:   (in) user virtual address, page aligned
 * @length: (in) bytes, a non-zero multiple of the page size
 * @method: (in) enum mockdma_pin_method
 * @flags:  (in) MOCKDMA_PIN_*
 * @handle: (out) non-zero handle naming this pinned range on this fd
 * @pad:    (in) must be 0
 * @npages: (out) number of pages pinned (length / page size)
 *
 * Errors: MOCKDMA_ERRNOS_PIN.  On error nothing stays pinned or charged.
 *
 * RLIMIT_MEMLOCK: without CAP_IPC_LOCK, the pages are charged to the
 * caller's user (user_struct locked_vm, shared with io_uring's fixed
 * buffers), as io_uring does, not to its mm: a charge stays with the user
 * while the handle lives, whichever process made it and whether or not that
 * process still exists, so forked children cannot pin past the limit
 * together.  With CAP_IPC_LOCK nothing is charged.  Either way the pages
 * also show in the pinning mm's pinned_vm (VmPin), and max_fd_pages bounds
 * what one fd holds.
 */
struct mockdma_pin {
	__u64 addr;
	__u64 length;
	__u32 method;
	__u32 flags;
	__u32 handle;
	__u32 pad;
	__u64 npages;
};

#define MOCKDMA_ERRNOS_PIN {						\
	EBADF,		/* the fd was opened O_RDONLY */		\
	EFAULT,		/* argument unreadable or unwritable; GUP: */	\
			/* unmapped range, PROT_NONE, a read-only */	\
			/* mapping pinned for write */			\
	EINVAL,		/* method, flags, pad; addr or length */	\
			/* unaligned, length 0, addr + length wraps */	\
			/* or ends beyond the task's address space; */	\
			/* LONGTERM with METHOD_GUP or PIN_UNLOCKED */	\
	E2BIG,		/* length above max_pin_pages */		\
	ENOSPC,		/* the fd would hold more than max_fd_pages */	\
	EPERM,		/* RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK */	\
			/* (can_do_mlock(), as ib_umem) */		\
	ENOMEM,		/* RLIMIT_MEMLOCK exceeded without */		\
			/* CAP_IPC_LOCK; allocation failure; GUP */	\
	EINTR,		/* fatal signal */				\
	EOPNOTSUPP,	/* GUP: LONGTERM on fsdax */			\
	EBUSY,		/* GUP: a page that cannot be migrated */	\
	EHWPOISON,	/* GUP: a poisoned page */			\
	0 }

/* struct mockdma_unpin.flags */
/*
 * Release with unpin_user_pages_dirty_lock(.., true) (legacy GUP:
 * set_page_dirty_lock() + put_page()), as a correct driver does after the
 * device wrote.  Without it the pages are released clean: the driver bug whose
 * consequence (device data never written back) the tests show.  Ignored for a
 * range pinned without MOCKDMA_PIN_WRITE, as ib_umem only dirties writable
 * umems: the device cannot have written it.
 *
 * Closing the fd releases every range it still holds, dirty if and only if it
 * was pinned with MOCKDMA_PIN_WRITE and at least one DMA_WRITE was done on it.
 */
#define MOCKDMA_UNPIN_DIRTY	0x1U
#define MOCKDMA_UNPIN_VALID	MOCKDMA_UNPIN_DIRTY

/**
 * struct mockdma_unpin - MOCKDMA_IOC_UNPIN argument
 * @handle: (in) handle returned by MOCKDMA_IOC_PIN
 * @flags:  (in) MOCKDMA_UNPIN_*
 *
 * Errors: MOCKDMA_ERRNOS_UNPIN.
 */
struct mockdma_unpin {
	__u32 handle;
	__u32 flags;
};

#define MOCKDMA_ERRNOS_UNPIN {						\
	EBADF,		/* the fd was opened O_RDONLY */		\
	EFAULT,		/* argument unreadable */			\
	EINVAL,		/* flags */					\
	ENOENT,		/* no such handle on this fd */			\
	EINTR,		/* fatal signal */				\
	0 }

/*
 * Fake DMA writes fill the target range with 16-byte stamps.  A stamp names
 * the handle, the page's index within the pinned range and the write's
 * sequence number, so a test can tell exactly which write reached the disk
 * and whether a page is torn (stamps of different writes in one page).
 * @seq is the low 32 bits of the write's 64-bit sequence number (never 0,
 * see the top).
 */
#define MOCKDMA_STAMP_MAGIC	0x6d646d61U	/* "amdm" little endian */
#define MOCKDMA_STAMP_SIZE	16

struct mockdma_stamp {
	__u32 magic;
	__u32 handle;
	__u32 page_index;
	__u32 seq;
};

/* struct mockdma_dma.flags (MOCKDMA_IOC_DMA_WRITE only) */
/*
 * After the write, set_page_dirty_lock() every written page: what a device
 * driver would have to do for the page cache to notice.  Real RDMA does not;
 * the default (0) models the device faithfully.
 */
#define MOCKDMA_DMA_SET_DIRTY	0x1U
#define MOCKDMA_DMA_VALID	MOCKDMA_DMA_SET_DIRTY

/**
 * struct mockdma_dma - MOCKDMA_IOC_DMA_WRITE / MOCKDMA_IOC_DMA_READ argument
 * @handle:   (in) pinned range
 * @flags:    (in) MOCKDMA_DMA_* (DMA_READ: must be 0)
 * @offset:   (in) byte offset into the pinned range, multiple of
 *            MOCKDMA_STAMP_SIZE
 * @length:   (in) bytes, non-zero multiple of MOCKDMA_STAMP_SIZE
 * @user_buf: (in) DMA_READ: where to copy the pinned bytes; DMA_WRITE: 0
 * @seq:      (out) DMA_WRITE: the sequence number stamped (per handle,
 *            from 1); DMA_READ: 0
 *
 * Both stop between two pages on a fatal signal (see the top).
 *
 * Errors: MOCKDMA_ERRNOS_DMA_WRITE, MOCKDMA_ERRNOS_DMA_READ.
 */
struct mockdma_dma {
	__u32 handle;
	__u32 flags;
	__u64 offset;
	__u64 length;
	__u64 user_buf;
	__u64 seq;
};

#define MOCKDMA_ERRNOS_DMA_WRITE {					\
	EBADF,		/* the fd was opened O_RDONLY */		\
	EFAULT,		/* argument unreadable or unwritable */		\
	EINVAL,		/* flags; offset or length unaligned, length */	\
			/* 0, range beyond the pinned length; */	\
			/* user_buf set */				\
	ENOENT,		/* no such handle on this fd */			\
	EPERM,		/* range pinned without MOCKDMA_PIN_WRITE */	\
	EINTR,		/* fatal signal */				\
	0 }

#define MOCKDMA_ERRNOS_DMA_READ {					\
	EFAULT,		/* argument unreadable or unwritable; */	\
			/* user_buf not writable */			\
	EINVAL,		/* flags; offset or length unaligned, length */	\
			/* 0, range beyond the pinned length */		\
	ENOENT,		/* no such handle on this fd */			\
	EINTR,		/* fatal signal */				\
	0 }

/* struct mockdma_page_state.flags: the folio's state when QUERY ran */
#define MOCKDMA_PAGE_LRU		0x1U	/* PG_lru */
#define MOCKDMA_PAGE_ACTIVE		0x2U	/* PG_active */
#define MOCKDMA_PAGE_UNEVICTABLE	0x4U	/* PG_unevictable */
#define MOCKDMA_PAGE_DIRTY		0x8U	/* PG_dirty */
#define MOCKDMA_PAGE_WRITEBACK		0x10U	/* PG_writeback */
#define MOCKDMA_PAGE_PRIVATE		0x20U	/* PG_private: buffer heads/iomap state */
#define MOCKDMA_PAGE_ANON		0x40U	/* anonymous folio */
#define MOCKDMA_PAGE_FILE		0x80U	/* page-cache folio (shmem included) */
#define MOCKDMA_PAGE_SWAPBACKED		0x100U	/* PG_swapbacked (anon, shmem) */
#define MOCKDMA_PAGE_THP		0x200U	/* part of a transparent huge folio */
#define MOCKDMA_PAGE_HUGETLB		0x400U	/* part of a hugetlbfs folio */
#define MOCKDMA_PAGE_DMA_PINNED		0x800U	/* folio_maybe_dma_pinned() */
#define MOCKDMA_PAGE_LOCKED		0x1000U	/* PG_locked */
#define MOCKDMA_PAGE_UPTODATE		0x2000U	/* PG_uptodate */
#define MOCKDMA_PAGE_MLOCKED		0x4000U	/* PG_mlocked */
#define MOCKDMA_PAGE_LARGE		0x8000U	/* folio order > 0 */

/**
 * struct mockdma_page_state - one pinned page as seen by QUERY
 * @pfn:      page frame number; 0 unless the fd was opened with
 *            CAP_SYS_ADMIN (as /proc/pid/pagemap)
 * @refcount: folio reference count (includes the pins)
 * @mapcount: page_mapcount() of this page
 * @pincount: pins on the folio: the exact pincount for large folios, the
 *            FOLL_PIN bias (refcount / 1024) for order-0 ones; 0 for pages
 *            held by legacy get_user_pages() and for the shared zero page
 *            (GUP never pins it)
 * @flags:    MOCKDMA_PAGE_*
 */
struct mockdma_page_state {
	__u64 pfn;
	__u32 refcount;
	__u32 mapcount;
	__u32 pincount;
	__u32 flags;
};

/**
 * struct mockdma_query - MOCKDMA_IOC_QUERY argument
 * @handle:     (in) pinned range
 * @flags:      (in) must be 0
 * @first_page: (in) index of the first page to report
 * @npages:     (in) entries available at @pages; (out) entries written
 *              (fewer at the end of the range)
 * @pages:      (in) user pointer to struct mockdma_page_state[@npages]
 * @addr:       (out) user address the range was pinned at
 * @length:     (out) bytes pinned
 * @method:     (out) enum mockdma_pin_method used
 * @pin_flags:  (out) MOCKDMA_PIN_* used
 * @dma_writes: (out) the last sequence number taken on this handle (by a
 *              DMA_WRITE, an engine pass or an ARM), 0 if none
 * @engine_passes:  (out) passes completed by the asynchronous engine
 * @inject_fired:   (out) pages written by armed injections so far
 * @inject_armed:   (out) pages armed for injection now, not yet fired
 * @engine_running: (out) 1 while the asynchronous engine runs
 *
 * Errors: MOCKDMA_ERRNOS_QUERY.
 */
struct mockdma_query {
	__u32 handle;
	__u32 flags;
	__u64 first_page;
	__u64 npages;
	__u64 pages;
	__u64 addr;
	__u64 length;
	__u32 method;
	__u32 pin_flags;
	__u64 dma_writes;
	__u64 engine_passes;
	__u64 inject_fired;
	__u32 inject_armed;
	__u32 engine_running;
};

#define MOCKDMA_ERRNOS_QUERY {						\
	EFAULT,		/* argument or pages unreadable or unwritable */ \
	EINVAL,		/* flags, first_page beyond the range, npages 0 */ \
	ENOENT,		/* no such handle on this fd */			\
	ENOMEM,		/* allocation failure */			\
	EINTR,		/* fatal signal */				\
	0 }

/* struct mockdma_engine.flags (MOCKDMA_IOC_ENGINE_START only) */
/* set_page_dirty_lock() every page after each pass (MOCKDMA_DMA_SET_DIRTY) */
#define MOCKDMA_ENGINE_SET_DIRTY	0x1U
#define MOCKDMA_ENGINE_VALID		MOCKDMA_ENGINE_SET_DIRTY
#define MOCKDMA_ENGINE_MAX_INTERVAL_US	1000000U

/**
 * struct mockdma_engine - MOCKDMA_IOC_ENGINE_START / _STOP / _STATUS argument
 * @handle:      (in) pinned range, pinned with MOCKDMA_PIN_WRITE for START
 * @flags:       (in) START: MOCKDMA_ENGINE_*; STOP, STATUS: 0
 * @first_page:  (in) START: first page of the set the engine writes
 * @npages:      (in) START: pages in the set, 0 for the rest of the range
 * @interval_us: (in) START: pause between two passes, at most
 *               MOCKDMA_ENGINE_MAX_INTERVAL_US; rounded up to whole jiffies
 *               and at least one (1/HZ: 4000 us at HZ=250, the jiffy in
 *               microseconds is struct mockdma_info.tick_us), so 0 is the
 *               shortest pause, one jiffy, not a busy loop
 * @running:     (out) 1 if the engine runs after this call
 * @passes:      (out) passes completed since START
 * @last_seq:    (out) sequence number of the last completed pass, 0 if none
 *
 * STOP and STATUS take @handle only: @flags, @first_page, @npages and
 * @interval_us must be 0.
 *
 * The engine is the device writing on its own: one kernel work item per
 * handle stamps every page of the set with a new sequence number per pass
 * (the stamps of struct mockdma_stamp, whole pages), pausing @interval_us
 * between passes, until STOP, UNPIN of the handle, close of the fd or exit
 * of the process (SIGKILL included).  STOP (and UNPIN, close) cuts a pass
 * in progress short at the next page: the pass is not counted in @passes,
 * and the pages it stamped keep its stamps.  STOP is a no-op on a stopped
 * engine.
 *
 * Errors: MOCKDMA_ERRNOS_ENGINE_START, _STOP, _STATUS.
 */
struct mockdma_engine {
	__u32 handle;
	__u32 flags;
	__u64 first_page;
	__u64 npages;
	__u32 interval_us;
	__u32 running;
	__u64 passes;
	__u64 last_seq;
};

#define MOCKDMA_ERRNOS_ENGINE_START {					\
	EBADF,		/* the fd was opened O_RDONLY */		\
	EFAULT,		/* argument unreadable or unwritable */		\
	EINVAL,		/* flags, interval, page set outside the range */ \
	ENOENT,		/* no such handle on this fd */			\
	EPERM,		/* range pinned without MOCKDMA_PIN_WRITE */	\
	EBUSY,		/* the engine runs already */			\
	EINTR,		/* fatal signal */				\
	0 }

#define MOCKDMA_ERRNOS_ENGINE_STOP {					\
	EBADF,		/* the fd was opened O_RDONLY */		\
	EFAULT,		/* argument unreadable or unwritable */		\
	EINVAL,		/* flags, first_page, npages or interval_us */	\
			/* not 0 */					\
	ENOENT,		/* no such handle on this fd */			\
	EINTR,		/* fatal signal */				\
	0 }

#define MOCKDMA_ERRNOS_ENGINE_STATUS {					\
	EFAULT,		/* argument unreadable or unwritable */		\
	EINVAL,		/* flags, first_page, npages or interval_us */	\
			/* not 0 */					\
	ENOENT,		/* no such handle on this fd */			\
	EINTR,		/* fatal signal */				\
	0 }

/*
 * Where an armed injection fires: the device writes into an armed page at
 * the moment the kernel reaches this point for the page's folio.  Each armed
 * page fires once; the write never dirties the page (it may run in atomic
 * context, like real DMA completion).
 */
enum mockdma_inject_point {
	/*
	 * Writeback has cleared the folio's dirty bit for I/O and is about to
	 * set PG_writeback; the bio carrying it has not been submitted yet
	 * (kprobe on __folio_start_writeback()).  The bytes written here are
	 * the ones this writeback puts on disk, and the folio is then clean.
	 */
	MOCKDMA_INJECT_WB_START		= 0,
	/*
	 * The write I/O of the folio completed; PG_writeback is still set
	 * (kprobe on folio_end_writeback()).  The bytes written here reached
	 * no disk and the folio is clean: nothing will write them back.
	 */
	MOCKDMA_INJECT_WB_END		= 1,
	/*
	 * Page reclaim examines the folio's references, from
	 * shrink_folio_list() or shrink_active_list(), memcg reclaim included
	 * (kprobe on folio_referenced()).
	 */
	MOCKDMA_INJECT_RECLAIM		= 2,
	/*
	 * mockdma's shrinker is asked to scan: global reclaim, or
	 * "echo 2 > /proc/sys/vm/drop_caches".  Not called for reclaim
	 * within a memory cgroup's limit (the shrinker is not memcg aware).
	 */
	MOCKDMA_INJECT_SHRINKER		= 3,
	/*
	 * A write bio carrying the folio enters a request-based (blk-mq)
	 * block device, the bottom of a stack of layers (kprobe on
	 * blk_mq_submit_bio()).  Everything above (the file system, device
	 * mapper targets) has built the bio, and whatever it checksummed
	 * before passing the bio down is computed; the device has not read
	 * the data yet (a loop device copies it later, from its worker).
	 * Fires once per bio the folio is in.
	 */
	MOCKDMA_INJECT_BIO_SUBMIT	= 4,
	MOCKDMA_INJECT_COUNT
};

/* Most pages armed at once, over all handles and fds. */
#define MOCKDMA_INJECT_MAX_PAGES	1024

/**
 * struct mockdma_inject - MOCKDMA_IOC_INJECT_ARM / _DISARM argument
 * @handle:     (in) pinned range, pinned with MOCKDMA_PIN_WRITE
 * @point:      (in) enum mockdma_inject_point
 * @first_page: (in) ARM: first page to arm
 * @npages:     (in) ARM: pages to arm, 0 for the rest of the range
 * @offset:     (in) ARM: byte offset of the write within each page,
 *              multiple of MOCKDMA_STAMP_SIZE
 * @length:     (in) ARM: bytes written into each page, non-zero multiple of
 *              MOCKDMA_STAMP_SIZE, @offset + @length at most the page size
 * @flags:      (in) must be 0
 * @pad:        (in) must be 0
 * @seq:        (in/out) ARM: 0 takes a new sequence number for the write;
 *              a number the handle already used (e.g. a DMA_WRITE's, or an
 *              earlier injection's) reuses it, so one logical device write
 *              can be split over two points
 * @armed:      (out) ARM: pages armed by this call; DISARM: pages that
 *              were still armed at @point and are now disarmed
 * @fired:      (out) DISARM: pages of this handle that fired at @point
 *              since the first ARM
 *
 * DISARM takes @handle and @point only (the other inputs must be 0).
 * UNPIN and close disarm every injection of their handles.
 *
 * ABI version 2 widened @seq to 64 bits, so the structure grew (56 to 64
 * bytes) and with it the command numbers (the size is part of them): a
 * binary built against version 1 gets -ENOTTY for both verbs.
 *
 * Errors: MOCKDMA_ERRNOS_INJECT_ARM, MOCKDMA_ERRNOS_INJECT_DISARM.
 */
struct mockdma_inject {
	__u32 handle;
	__u32 point;
	__u64 first_page;
	__u64 npages;
	__u32 offset;
	__u32 length;
	__u32 flags;
	__u32 pad;
	__u64 seq;
	__u64 armed;
	__u64 fired;
};

#define MOCKDMA_ERRNOS_INJECT_ARM {					\
	EBADF,		/* the fd was opened O_RDONLY */		\
	EFAULT,		/* argument unreadable or unwritable */		\
	EINVAL,		/* point, flags, pad; page range, offset, */	\
			/* length; seq not yet taken by the handle */	\
	ENOENT,		/* no such handle on this fd */			\
	EPERM,		/* range pinned without MOCKDMA_PIN_WRITE */	\
	ENOSPC,		/* more than MOCKDMA_INJECT_MAX_PAGES armed */	\
	EOPNOTSUPP,	/* no kprobes, or no such symbol to probe */	\
	EINTR,		/* fatal signal */				\
	0 }

#define MOCKDMA_ERRNOS_INJECT_DISARM {					\
	EBADF,		/* the fd was opened O_RDONLY */		\
	EFAULT,		/* argument unreadable or unwritable */		\
	EINVAL,		/* point, flags, pad; any other input not 0 */	\
	ENOENT,		/* no such handle on this fd */			\
	EPERM,		/* range pinned without MOCKDMA_PIN_WRITE */	\
	EINTR,		/* fatal signal */				\
	0 }

/* The ABI revision GET_INFO reports; 2: 64-bit sequence numbers, GET_INFO. */
#define MOCKDMA_ABI_VERSION		2

/* struct mockdma_info.features */
/* The kprobe injection points (WB_START, WB_END, RECLAIM) can be armed. */
#define MOCKDMA_FEATURE_INJECT_KPROBES	0x1ULL
/* QUERY on this fd reports pfns (opened with CAP_SYS_ADMIN). */
#define MOCKDMA_FEATURE_SHOW_PFN	0x2ULL
/* RLIMIT_MEMLOCK is charged to the user, not the mm (see struct mockdma_pin). */
#define MOCKDMA_FEATURE_MEMLOCK_USER	0x4ULL

/**
 * struct mockdma_info - MOCKDMA_IOC_GET_INFO argument: the device's limits
 * @abi_version:      (out) MOCKDMA_ABI_VERSION of the driver
 * @flags:            (in) must be 0
 * @features:         (out) MOCKDMA_FEATURE_*
 * @max_pin_pages:    (out) largest PIN in pages (else -E2BIG), now
 * @max_fd_pages:     (out) most pages one fd may hold (else -ENOSPC), now
 * @inject_max_pages: (out) MOCKDMA_INJECT_MAX_PAGES of the driver
 * @inject_points:    (out) MOCKDMA_INJECT_COUNT of the driver
 * @engine_max_interval_us: (out) MOCKDMA_ENGINE_MAX_INTERVAL_US
 * @tick_us:          (out) one jiffy in microseconds: the granularity of
 *                    struct mockdma_engine.interval_us
 * @page_size:        (out) PAGE_SIZE
 * @stamp_size:       (out) MOCKDMA_STAMP_SIZE
 *
 * The limits are module parameters root may change at any time; this is
 * their value when the call ran.
 *
 * Errors: MOCKDMA_ERRNOS_GET_INFO.
 */
struct mockdma_info {
	__u32 abi_version;
	__u32 flags;
	__u64 features;
	__u64 max_pin_pages;
	__u64 max_fd_pages;
	__u32 inject_max_pages;
	__u32 inject_points;
	__u32 engine_max_interval_us;
	__u32 tick_us;
	__u32 page_size;
	__u32 stamp_size;
};

#define MOCKDMA_ERRNOS_GET_INFO {					\
	EFAULT,		/* argument unreadable or unwritable */		\
	EINVAL,		/* flags */					\
	0 }

/* Any other command of any magic. */
#define MOCKDMA_ERRNOS_UNKNOWN {					\
	ENOTTY,		/* not a command of this device */		\
	0 }

#define MOCKDMA_IOC_PIN		_IOWR(MOCKDMA_IOC_MAGIC, 0x00, struct mockdma_pin)
#define MOCKDMA_IOC_UNPIN	_IOW(MOCKDMA_IOC_MAGIC, 0x01, struct mockdma_unpin)
#define MOCKDMA_IOC_DMA_WRITE	_IOWR(MOCKDMA_IOC_MAGIC, 0x02, struct mockdma_dma)
#define MOCKDMA_IOC_DMA_READ	_IOWR(MOCKDMA_IOC_MAGIC, 0x03, struct mockdma_dma)
#define MOCKDMA_IOC_QUERY	_IOWR(MOCKDMA_IOC_MAGIC, 0x04, struct mockdma_query)
#define MOCKDMA_IOC_ENGINE_START	_IOWR(MOCKDMA_IOC_MAGIC, 0x05, struct mockdma_engine)
#define MOCKDMA_IOC_ENGINE_STOP		_IOWR(MOCKDMA_IOC_MAGIC, 0x06, struct mockdma_engine)
#define MOCKDMA_IOC_ENGINE_STATUS	_IOWR(MOCKDMA_IOC_MAGIC, 0x07, struct mockdma_engine)
#define MOCKDMA_IOC_INJECT_ARM		_IOWR(MOCKDMA_IOC_MAGIC, 0x08, struct mockdma_inject)
#define MOCKDMA_IOC_INJECT_DISARM	_IOWR(MOCKDMA_IOC_MAGIC, 0x09, struct mockdma_inject)
#define MOCKDMA_IOC_GET_INFO		_IOWR(MOCKDMA_IOC_MAGIC, 0x0a, struct mockdma_info)

#endif /* _UAPI_MOCKDMA_H */
