/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mockdma: internal interfaces between the driver's files.
 *
 * Object model:
 *
 * struct mockdma_file is one open of /dev/mockdma.  It owns a table of
 * handles (an xarray, ids from 1, allocated cyclically) under its mutex,
 * and is on a global list so that debugfs can show every fd.
 *
 * struct mockdma_handle is one pinned range.  It is reference counted
 * (mockdma_pin.c): the fd's table holds one reference, and an ioctl
 * touching the pages holds another for the duration of the call.  Two
 * users hold none and are instead stopped before the table's reference is
 * dropped (mockdma_handle_retire()): the DMA engine, whose work item is
 * cancelled synchronously, and the fault-injection hooks, which count in
 * @inject_firing inside an RCU read-side section that retirement waits for
 * (mockdma_inject.c).  Removing a handle from the table (UNPIN, close)
 * retires it, records how the pages are to be released and drops the
 * table's reference; the pages are unpinned when the last reference goes,
 * so a concurrent user can never write into a page that has already been
 * unpinned and perhaps freed.
 */
#ifndef _MOCKDMA_INTERNAL_H
#define _MOCKDMA_INTERNAL_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "uapi/mockdma.h"

/*
 * How the pages of a handle are released when its last reference goes.
 * Written by whoever removes the handle from its fd's table, before it drops
 * the table's reference.
 */
enum mockdma_release_mode {
	/* unpin_user_pages() / put_page(): pages released clean */
	MOCKDMA_RELEASE_CLEAN,
	/* unpin_user_pages_dirty_lock(.., true) if pinned for write */
	MOCKDMA_RELEASE_DIRTY,
	/* as DIRTY if the device wrote at all (@wrote), else CLEAN */
	MOCKDMA_RELEASE_DIRTY_IF_WRITTEN,
};

/*
 * The asynchronous engine of one handle (mockdma_engine.c).  Its fields
 * other than the counters are written under the handle's lock.
 */
struct mockdma_engine_state {
	struct delayed_work work;
	bool running;		/* started and not yet stopped */
	bool stopping;		/* STOP asked: the work must not requeue */
	bool set_dirty;
	unsigned long first, npages;
	unsigned long interval;	/* jiffies between passes, at least 1 */
	atomic64_t passes;
	atomic64_t last_seq;
};

struct mockdma_handle {
	struct kref ref;
	u32 id;			/* index in the owning fd's table */
	u32 method;		/* enum mockdma_pin_method */
	u32 pin_flags;		/* MOCKDMA_PIN_* */
	unsigned long addr;	/* user address pinned at */
	unsigned long npages;
	struct page **pages;	/* npages entries, all valid */
	/*
	 * The mm charged in pinned_vm, held by mmgrab() so the charge can be
	 * undone even after the process exited (ib_umem's owning_mm).
	 */
	struct mm_struct *mm;
	/* The user charged for RLIMIT_MEMLOCK (a reference), NULL: none. */
	struct user_struct *user;
	atomic64_t dma_seq;	/* last sequence number taken, 0: none */
	/*
	 * Set by the write itself (mockdma_dma_stamp()), not by taking a
	 * sequence number: an injection armed and disarmed without firing
	 * took one but wrote nothing.
	 */
	bool wrote;
	int release_mode;	/* enum mockdma_release_mode */
	/*
	 * Serialises engine start/stop, injection arming and retirement:
	 * once @retired is set under it, neither can start again, so a
	 * retired handle has no engine running and no page armed.
	 */
	struct mutex lock;
	bool retired;
	struct mockdma_engine_state engine;
	atomic_t inject_armed;	/* pages armed now */
	atomic_t inject_firing;	/* slots being stamped by a hook now */
	atomic64_t inject_fired[MOCKDMA_INJECT_COUNT];	/* per point */
};

/*
 * Fault injection for pinlab's mutation run (debugfs mutate_skip_write):
 * when set, the device "writes" nothing, so every verdict that depends on
 * a device write must turn red.  Never set outside that run.
 */
extern bool mockdma_mutate_skip_write;
/* Fault injection (debugfs inject_fail_register), see mockdma_inject.c. */
extern bool mockdma_inject_fail_register;

/*
 * The driver's mutations (debugfs "mutate", ci/mutations): each a
 * deliberate defect that brings back a bug a test must see.  0 outside
 * pinlab's mutation run.
 */
enum mockdma_mutation {
	/* DMA verbs ignore fatal signals, the engine STOP mid-pass */
	MOCKDMA_MUT_UNINTERRUPTIBLE,
	/* interval_us 0 requeues the engine at once (a busy loop) */
	MOCKDMA_MUT_ENGINE_BUSY,
	/* RLIMIT_MEMLOCK checked against the mm's pinned_vm, not the user */
	MOCKDMA_MUT_MEMLOCK_PER_MM,
	/* PIN skips can_do_mlock() */
	MOCKDMA_MUT_NO_CAN_DO_MLOCK,
	/* sequence numbers truncated to 32 bits (ABI 1): they wrap to 0 */
	MOCKDMA_MUT_SEQ32,
	/* ENGINE_STOP/STATUS accept non-zero START-only inputs */
	MOCKDMA_MUT_ENGINE_LAX,
	/* GET_INFO reports the default limits, not the current ones */
	MOCKDMA_MUT_INFO_STALE,
	/* unpin_irqs_off skips the dirtying step */
	MOCKDMA_MUT_IRQS_OFF_NO_DIRTY,
	/* an unknown handle gives -ESRCH, an errno no verb documents */
	MOCKDMA_MUT_STRAY_ERRNO,
	/* the release of an exiting task's fd leaks each handle it retires */
	MOCKDMA_MUT_EXIT_LEAK,
	/* PIN and release ignore debugfs gup_chunk_pages (the default's calls) */
	MOCKDMA_MUT_GUP_CHUNK_IGNORED,
	MOCKDMA_MUT_COUNT
};

extern unsigned long mockdma_mutations;

static inline bool mockdma_mutated(enum mockdma_mutation m)
{
	return READ_ONCE(mockdma_mutations) & BIT(m);
}

/* debugfs test knobs (mockdma_debugfs.c) */
extern u32 mockdma_dma_page_delay_us;	/* sleep per page written or read */
extern u64 mockdma_seq_base;		/* a new handle's first dma_seq */
/* UNPIN and release drop the pins with IRQs off (mockdma_pin.c). */
extern bool mockdma_unpin_irqs_off;
/*
 * Pages per GUP call and per unpin call, 1..MOCKDMA_GUP_CHUNK_MAX: the
 * maximum is the pin benchmark's largest nr_pages_per_call.
 */
#define MOCKDMA_GUP_CHUNK_DEFAULT	1024U
#define MOCKDMA_GUP_CHUNK_MAX		8192U
extern u32 mockdma_gup_chunk;
unsigned long mockdma_gup_chunk_pages(void);

struct mockdma_file {
	struct mutex lock;	/* protects handles, nhandles, npages */
	struct xarray handles;	/* id -> struct mockdma_handle */
	/* Written under lock, read locklessly by debugfs. */
	unsigned long nhandles;
	unsigned long npages;	/* sum of npages of the handles in the table */
	pid_t tgid;		/* opener, for debugfs */
	u32 next_id;		/* cyclic handle ids: a stale stamp never names a new pin */
	/* The opener may see pfns (CAP_SYS_ADMIN at open, as for pagemap). */
	bool show_pfn;
	struct list_head node;	/* on mockdma_files */
};

/* Global counters, reported by debugfs "stats". */
struct mockdma_stats {
	atomic64_t pages_pinned;	/* pages held by live handles, now */
	atomic64_t handles;		/* live handles, now */
	atomic64_t pins_total;
	atomic64_t unpins_total;
	atomic64_t pin_errors_total;	/* PIN ioctls that failed */
	atomic64_t dma_write_bytes;
	atomic64_t dma_read_bytes;
	atomic64_t dma_writes_total;
	atomic64_t engines_running;	/* now */
	atomic64_t engine_passes_total;
	atomic64_t inject_armed;	/* pages armed now */
	atomic64_t inject_arms_total;	/* pages ever armed */
	atomic64_t inject_fired_total;	/* pages written by injections */
	atomic64_t inject_fired[MOCKDMA_INJECT_COUNT];
	/* hook hits that gave up on the slot lock in NMI context */
	atomic64_t inject_lock_busy;
	atomic64_t dma_interrupted_total;	/* DMA verbs a fatal signal cut */
	atomic64_t engine_passes_cut_total;	/* passes STOP cut short */
	atomic64_t unpin_irqs_off_pages;	/* pages unpinned with IRQs off */
	atomic64_t gup_calls_total;	/* GUP calls made by PINs */
	atomic64_t unpin_calls_total;	/* unpin calls: releases, failed PINs' undo */
};

extern struct mockdma_stats mockdma_stats;
extern unsigned long mockdma_max_pin_pages;
extern unsigned long mockdma_max_fd_pages;
#define MOCKDMA_MAX_PIN_PAGES_DEFAULT	262144UL
#define MOCKDMA_MAX_FD_PAGES_DEFAULT	524288UL

/* Every open fd, for debugfs. */
extern struct list_head mockdma_files;
extern struct mutex mockdma_files_lock;

/* mockdma_pin.c: pinning and the handle's lifetime */
struct mockdma_handle *mockdma_handle_pin(unsigned long addr,
					  unsigned long npages, u32 method,
					  u32 pin_flags);
void mockdma_handle_retire(struct mockdma_handle *h,
			   enum mockdma_release_mode mode);
u64 mockdma_handle_next_seq(struct mockdma_handle *h);

static inline void mockdma_handle_get(struct mockdma_handle *h)
{
	kref_get(&h->ref);
}

void mockdma_handle_put(struct mockdma_handle *h);

static inline unsigned long mockdma_handle_length(const struct mockdma_handle *h)
{
	return h->npages << PAGE_SHIFT;
}

/*
 * The page set [@first, @first + @npages) of @h, @npages 0 meaning the rest
 * of the range, as ENGINE_START and INJECT_ARM take it: its page count in
 * *@n, or -EINVAL if it is empty or leaves the range.
 */
static inline int mockdma_handle_range(const struct mockdma_handle *h,
				       u64 first, u64 npages, unsigned long *n)
{
	if (first >= h->npages || npages > h->npages - first)
		return -EINVAL;
	*n = npages ? npages : h->npages - first;
	return 0;
}

/* mockdma_dma.c */
void mockdma_dma_stamp(struct mockdma_handle *h, unsigned long index,
		       unsigned int offset, unsigned int len, u64 seq,
		       bool set_dirty);
int mockdma_dma_write(struct mockdma_handle *h, u64 offset, u64 length,
		      bool set_dirty, const bool *stop, u64 *seq);
int mockdma_dma_read(struct mockdma_handle *h, u64 offset, u64 length,
		     void __user *buf);

/* mockdma_engine.c */
void mockdma_engine_handle_init(struct mockdma_handle *h);
int mockdma_engine_init(void);
void mockdma_engine_exit(void);
int mockdma_engine_start(struct mockdma_handle *h,
			 const struct mockdma_engine *e);
void mockdma_engine_stop(struct mockdma_handle *h);
void mockdma_engine_stop_locked(struct mockdma_handle *h);
void mockdma_engine_status(struct mockdma_handle *h, struct mockdma_engine *e);

/* mockdma_inject.c */
int mockdma_inject_init(void);
void mockdma_inject_exit(void);
int mockdma_inject_arm(struct mockdma_handle *h, struct mockdma_inject *in);
void mockdma_inject_disarm(struct mockdma_handle *h, u32 point,
			   struct mockdma_inject *out);
void mockdma_inject_disarm_all(struct mockdma_handle *h);
void mockdma_inject_retired(void);
unsigned int mockdma_inject_probes_live(void);
unsigned long mockdma_inject_probes_missed(void);

/* mockdma_query.c */
int mockdma_query_pages(struct mockdma_handle *h, u64 first, u64 count,
			struct mockdma_page_state __user *out, bool show_pfn);

/* mockdma_debugfs.c */
void mockdma_debugfs_init(void);
void mockdma_debugfs_exit(void);

/* mockdma_bench.c: the DMA benchmark's memcpy reference, in debugfs */
struct dentry;
void mockdma_bench_debugfs_init(struct dentry *dir);

#endif /* _MOCKDMA_INTERNAL_H */
