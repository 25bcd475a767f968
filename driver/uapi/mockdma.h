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
 * reserved fields are rejected with -EINVAL so they can be given a meaning
 * later.  Unknown ioctl commands return -ENOTTY.  Flag values are written in
 * hex rather than with BIT(), which is not exported to userspace.
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
 * Errors: -EFAULT bad argument pointer, or GUP failed (unmapped range,
 * PROT_NONE, read-only mapping pinned for write); -EINVAL unknown method or
 * flags, non-zero pad, unaligned addr or length, zero length, addr + length
 * wraps or ends beyond the task's address space, LONGTERM with
 * MOCKDMA_METHOD_GUP or MOCKDMA_METHOD_PIN_UNLOCKED; -E2BIG length above the
 * max_pin_pages module parameter; -ENOSPC the fd would hold more than
 * max_fd_pages; -ENOMEM RLIMIT_MEMLOCK exceeded without CAP_IPC_LOCK (as
 * ib_umem does), or allocation failure; -EINTR fatal signal; any other GUP
 * error unchanged.  On error nothing stays pinned.
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
 * Errors: -EFAULT, -EINVAL (flags), -ENOENT (no such handle on this fd),
 * -EINTR (fatal signal).
 */
struct mockdma_unpin {
	__u32 handle;
	__u32 flags;
};

/*
 * Fake DMA writes fill the target range with 16-byte stamps.  A stamp names
 * the handle, the page's index within the pinned range and the write's
 * sequence number, so a test can tell exactly which write reached the disk
 * and whether a page is torn (stamps of different writes in one page).
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
 *            starting at 1); DMA_READ: 0
 * @pad:      (in) must be 0
 *
 * Errors: -EFAULT, -EINVAL (flags, pad, alignment, zero length, range beyond
 * the pinned length, user_buf set for a write), -ENOENT (handle), -EPERM
 * (DMA_WRITE into a range pinned without MOCKDMA_PIN_WRITE).
 */
struct mockdma_dma {
	__u32 handle;
	__u32 flags;
	__u64 offset;
	__u64 length;
	__u64 user_buf;
	__u32 seq;
	__u32 pad;
};

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
 * @dma_writes: (out) sequence numbers used on this handle so far (the last
 *              seq): DMA_WRITEs, engine passes and armed injections
 * @engine_passes:  (out) passes completed by the asynchronous engine
 * @inject_fired:   (out) pages written by armed injections so far
 * @inject_armed:   (out) pages armed for injection now, not yet fired
 * @engine_running: (out) 1 while the asynchronous engine runs
 *
 * Errors: -EFAULT, -EINVAL (flags, first_page beyond the range, npages 0),
 * -ENOENT (handle).
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
 *               MOCKDMA_ENGINE_MAX_INTERVAL_US; 0 only yields the CPU
 * @running:     (out) 1 if the engine runs after this call
 * @passes:      (out) passes completed since START
 * @last_seq:    (out) sequence number of the last completed pass, 0 if none
 * @pad:         (in) must be 0
 *
 * The engine is the device writing on its own: one kernel work item per
 * handle stamps every page of the set with a new sequence number per pass
 * (the stamps of struct mockdma_stamp, whole pages), sleeping @interval_us
 * between passes, until STOP, UNPIN of the handle, close of the fd or exit
 * of the process (SIGKILL included).  STOP waits for a pass in progress to
 * end, and is a no-op on a stopped engine.
 *
 * Errors: -EFAULT, -EINVAL (flags, pad, interval, page set outside the
 * range), -ENOENT (handle), -EPERM (START on a range pinned without
 * MOCKDMA_PIN_WRITE), -EBUSY (START while running), -EINTR.
 */
struct mockdma_engine {
	__u32 handle;
	__u32 flags;
	__u64 first_page;
	__u64 npages;
	__u32 interval_us;
	__u32 running;
	__u64 passes;
	__u32 last_seq;
	__u32 pad;
};

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
 * @seq:        (in/out) ARM: 0 takes a new sequence number for the write;
 *              a number the handle already used (e.g. a DMA_WRITE's, or an
 *              earlier injection's) reuses it, so one logical device write
 *              can be split over two points
 * @flags:      (in) must be 0
 * @armed:      (out) ARM: pages armed by this call; DISARM: pages that
 *              were still armed at @point and are now disarmed
 * @fired:      (out) DISARM: pages of this handle that fired at @point
 *              since the first ARM
 *
 * DISARM takes @handle and @point only (the other inputs must be 0).
 * UNPIN and close disarm every injection of their handles.
 *
 * Errors: -EFAULT, -EINVAL (point, flags, ranges, alignment, seq not yet
 * used), -ENOENT (handle), -EPERM (range pinned without MOCKDMA_PIN_WRITE),
 * -ENOSPC (more than MOCKDMA_INJECT_MAX_PAGES armed), -EOPNOTSUPP (the
 * kernel has no kprobes, or no such symbol to probe), -EINTR.
 */
struct mockdma_inject {
	__u32 handle;
	__u32 point;
	__u64 first_page;
	__u64 npages;
	__u32 offset;
	__u32 length;
	__u32 seq;
	__u32 flags;
	__u64 armed;
	__u64 fired;
};

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

#endif /* _UAPI_MOCKDMA_H */
