// SPDX-License-Identifier: GPL-2.0
/*
 * mockdma: a mock DMA device for testing long-term GUP pinning.
 *
 * /dev/mockdma pins user memory the way RDMA and GPU drivers do and performs
 * fake device writes and reads into the pinned pages; see uapi/mockdma.h for
 * the ABI.  This file holds the module, the file operations and the ioctl
 * layer: argument copying and validation, GET_INFO, and the per-fd handle
 * table.  The work is done in mockdma_pin.c (pinning and the handle's
 * lifetime), mockdma_dma.c (the device's writes and reads),
 * mockdma_query.c (page state), mockdma_engine.c (the asynchronous
 * engine), mockdma_inject.c (fault injection) and mockdma_debugfs.c
 * (counters and test knobs).
 *
 * This is a test module: whoever can open the node (0600: root) may pin up to
 * max_fd_pages per fd and have the fake device scribble into them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/capability.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>

#include "mockdma_internal.h"

/*
 * The ABI promises identical layouts for i386 and x86-64 callers (so that
 * compat_ptr_ioctl() is enough): no implicit padding, sizes multiple of 8.
 */
static_assert(sizeof(struct mockdma_pin) == 40);
static_assert(sizeof(struct mockdma_unpin) == 8);
static_assert(sizeof(struct mockdma_dma) == 40);
static_assert(sizeof(struct mockdma_page_state) == 24);
static_assert(sizeof(struct mockdma_query) == 88);
static_assert(sizeof(struct mockdma_engine) == 48);
static_assert(sizeof(struct mockdma_inject) == 64);
static_assert(sizeof(struct mockdma_info) == 56);

unsigned long mockdma_max_pin_pages = MOCKDMA_MAX_PIN_PAGES_DEFAULT;
module_param_named(max_pin_pages, mockdma_max_pin_pages, ulong, 0644);
MODULE_PARM_DESC(max_pin_pages,
		 "Largest single PIN in pages, else -E2BIG (default 262144)");

unsigned long mockdma_max_fd_pages = MOCKDMA_MAX_FD_PAGES_DEFAULT;
module_param_named(max_fd_pages, mockdma_max_fd_pages, ulong, 0644);
MODULE_PARM_DESC(max_fd_pages,
		 "Most pages one fd may hold pinned, else -ENOSPC (default 524288)");

struct mockdma_stats mockdma_stats;

/* Every open fd, for debugfs "fds". */
LIST_HEAD(mockdma_files);
/* Protects mockdma_files (the list only, not the fds' contents). */
DEFINE_MUTEX(mockdma_files_lock);

/*
 * Handle table.  Every change happens under mf->lock, which is only ever
 * held briefly: never across GUP, page release or a user copy.  Entry points
 * take it killable (-EINTR); steps that undo or commit work already done take
 * it unconditionally, as they must not fail.
 */

static struct mockdma_handle *mockdma_table_remove(struct mockdma_file *mf,
						   u32 id)
{
	struct mockdma_handle *h;

	lockdep_assert_held(&mf->lock);
	h = xa_erase(&mf->handles, id);
	if (h) {
		WRITE_ONCE(mf->nhandles, mf->nhandles - 1);
		WRITE_ONCE(mf->npages, mf->npages - h->npages);
	}
	return h;
}

/* Look up @id and take a reference on it for the caller. */
static int mockdma_lookup(struct mockdma_file *mf, u32 id,
			  struct mockdma_handle **hp)
{
	struct mockdma_handle *h;

	if (mutex_lock_killable(&mf->lock))
		return -EINTR;
	h = xa_load(&mf->handles, id);
	if (h)
		mockdma_handle_get(h);
	mutex_unlock(&mf->lock);
	if (!h)
		return mockdma_mutated(MOCKDMA_MUT_STRAY_ERRNO) ? -ESRCH : -ENOENT;
	*hp = h;
	return 0;
}

/*
 * Count @npages against max_fd_pages before pinning, so that concurrent PINs
 * on one fd cannot together exceed it.
 */
static int mockdma_reserve(struct mockdma_file *mf, unsigned long npages)
{
	int ret = 0;

	if (mutex_lock_killable(&mf->lock))
		return -EINTR;
	if (mf->npages + npages > READ_ONCE(mockdma_max_fd_pages))
		ret = -ENOSPC;
	else
		WRITE_ONCE(mf->npages, mf->npages + npages);
	mutex_unlock(&mf->lock);
	return ret;
}

static void mockdma_unreserve(struct mockdma_file *mf, unsigned long npages)
{
	mutex_lock(&mf->lock);
	WRITE_ONCE(mf->npages, mf->npages - npages);
	mutex_unlock(&mf->lock);
}

static int mockdma_pin_check(const struct mockdma_pin *p)
{
	u64 end;

	if (p->method >= MOCKDMA_METHOD_COUNT ||
	    (p->flags & ~MOCKDMA_PIN_VALID) || p->pad)
		return -EINVAL;
	if (!IS_ALIGNED(p->addr, PAGE_SIZE) ||
	    !IS_ALIGNED(p->length, PAGE_SIZE) || !p->length)
		return -EINVAL;
	/* TASK_SIZE is the caller's: 4 GiB for a 32-bit task. */
	if (check_add_overflow(p->addr, p->length, &end) || end > TASK_SIZE)
		return -EINVAL;
	/*
	 * 6.1 takes FOLL_LONGTERM only with FOLL_PIN: get_user_pages() fails
	 * it in is_valid_gup_flags(), and get_user_pages_unlocked() (under
	 * pin_user_pages_unlocked()) refuses it too (mm/gup.c).  Both do so
	 * with WARN_ON_ONCE(), and a WARN fails CI, so never get there.
	 */
	if ((p->flags & MOCKDMA_PIN_LONGTERM) &&
	    (p->method == MOCKDMA_METHOD_GUP ||
	     p->method == MOCKDMA_METHOD_PIN_UNLOCKED))
		return -EINVAL;
	if (p->length >> PAGE_SHIFT > READ_ONCE(mockdma_max_pin_pages))
		return -E2BIG;
	return 0;
}

static int mockdma_ioctl_pin(struct mockdma_file *mf,
			     struct mockdma_pin __user *uarg)
{
	struct mockdma_handle *h, *gone = NULL;
	struct mockdma_pin p;
	unsigned long npages;
	int ret;

	if (copy_from_user(&p, uarg, sizeof(p)))
		return -EFAULT;
	ret = mockdma_pin_check(&p);
	if (ret)
		return ret;
	npages = p.length >> PAGE_SHIFT;

	ret = mockdma_reserve(mf, npages);
	if (ret)
		return ret;

	h = mockdma_handle_pin(p.addr, npages, p.method, p.flags);
	if (IS_ERR(h)) {
		ret = PTR_ERR(h);
		goto err_unreserve;
	}

	/* Ids from 1 (XA_FLAGS_ALLOC1), so 0 is never a valid handle. */
	mutex_lock(&mf->lock);
	/* Cyclic: an id is not reused until the 32-bit space wraps. */
	ret = xa_alloc_cyclic(&mf->handles, &h->id, h, xa_limit_32b,
			      &mf->next_id, GFP_KERNEL_ACCOUNT);
	if (ret >= 0) {
		ret = 0;
		WRITE_ONCE(mf->nhandles, mf->nhandles + 1);
		/* Ours, on top of the table's, until the reply is out. */
		mockdma_handle_get(h);
	}
	mutex_unlock(&mf->lock);
	if (ret) {
		mockdma_handle_retire(h, MOCKDMA_RELEASE_CLEAN);
		goto err_unreserve;
	}

	p.handle = h->id;
	p.npages = npages;
	if (copy_to_user(uarg, &p, sizeof(p))) {
		/*
		 * The caller cannot learn the handle: take it back, unless
		 * another thread guessed the id and unpinned it already (our
		 * reference keeps @h from being freed and reused meanwhile).
		 */
		ret = -EFAULT;
		mutex_lock(&mf->lock);
		if (xa_load(&mf->handles, h->id) == h)
			gone = mockdma_table_remove(mf, h->id);
		mutex_unlock(&mf->lock);
		if (gone)
			mockdma_handle_retire(gone,
					      MOCKDMA_RELEASE_DIRTY_IF_WRITTEN);
	}
	mockdma_handle_put(h);
	return ret;

err_unreserve:
	mockdma_unreserve(mf, npages);
	return ret;
}

static int mockdma_ioctl_unpin(struct mockdma_file *mf,
			       struct mockdma_unpin __user *uarg)
{
	struct mockdma_handle *h;
	struct mockdma_unpin u;

	if (copy_from_user(&u, uarg, sizeof(u)))
		return -EFAULT;
	if (u.flags & ~MOCKDMA_UNPIN_VALID)
		return -EINVAL;

	if (mutex_lock_killable(&mf->lock))
		return -EINTR;
	h = mockdma_table_remove(mf, u.handle);
	mutex_unlock(&mf->lock);
	if (!h)
		return -ENOENT;

	mockdma_handle_retire(h, (u.flags & MOCKDMA_UNPIN_DIRTY) ?
			      MOCKDMA_RELEASE_DIRTY : MOCKDMA_RELEASE_CLEAN);
	return 0;
}

static int mockdma_ioctl_dma(struct mockdma_file *mf,
			     struct mockdma_dma __user *uarg, bool write)
{
	u32 valid = write ? MOCKDMA_DMA_VALID : 0;
	struct mockdma_handle *h;
	struct mockdma_dma d;
	u64 end;
	int ret;

	if (copy_from_user(&d, uarg, sizeof(d)))
		return -EFAULT;
	if (d.flags & ~valid)
		return -EINVAL;
	if (!IS_ALIGNED(d.offset, MOCKDMA_STAMP_SIZE) ||
	    !IS_ALIGNED(d.length, MOCKDMA_STAMP_SIZE) || !d.length)
		return -EINVAL;
	if (check_add_overflow(d.offset, d.length, &end))
		return -EINVAL;
	if (write && d.user_buf)
		return -EINVAL;

	ret = mockdma_lookup(mf, d.handle, &h);
	if (ret)
		return ret;
	if (end > mockdma_handle_length(h)) {
		ret = -EINVAL;
		goto out_put;
	}

	if (write) {
		/* Like an IB MR registered without write access. */
		if (!(h->pin_flags & MOCKDMA_PIN_WRITE)) {
			ret = -EPERM;
			goto out_put;
		}
		ret = mockdma_dma_write(h, d.offset, d.length,
					d.flags & MOCKDMA_DMA_SET_DIRTY, NULL,
					&d.seq);
	} else {
		ret = mockdma_dma_read(h, d.offset, d.length,
				       u64_to_user_ptr(d.user_buf));
		d.seq = 0;
	}
	if (ret == -EINTR)
		atomic64_inc(&mockdma_stats.dma_interrupted_total);
	if (ret)
		goto out_put;

	if (copy_to_user(uarg, &d, sizeof(d)))
		ret = -EFAULT;
out_put:
	mockdma_handle_put(h);
	return ret;
}

static int mockdma_ioctl_query(struct mockdma_file *mf,
			       struct mockdma_query __user *uarg)
{
	struct mockdma_handle *h;
	struct mockdma_query q;
	u64 count;
	int ret, i;

	if (copy_from_user(&q, uarg, sizeof(q)))
		return -EFAULT;
	if (q.flags || !q.npages)
		return -EINVAL;

	ret = mockdma_lookup(mf, q.handle, &h);
	if (ret)
		return ret;
	if (q.first_page >= h->npages) {
		ret = -EINVAL;
		goto out_put;
	}

	count = min_t(u64, q.npages, h->npages - q.first_page);
	ret = mockdma_query_pages(h, q.first_page, count,
				  u64_to_user_ptr(q.pages), mf->show_pfn);
	if (ret)
		goto out_put;

	/* Every field is in or out: nothing uninitialised goes back. */
	q.npages = count;
	q.addr = h->addr;
	q.length = mockdma_handle_length(h);
	q.method = h->method;
	q.pin_flags = h->pin_flags;
	q.dma_writes = atomic64_read(&h->dma_seq);
	q.engine_passes = atomic64_read(&h->engine.passes);
	q.engine_running = READ_ONCE(h->engine.running);
	q.inject_armed = atomic_read(&h->inject_armed);
	q.inject_fired = 0;
	for (i = 0; i < MOCKDMA_INJECT_COUNT; i++)
		q.inject_fired += atomic64_read(&h->inject_fired[i]);
	if (copy_to_user(uarg, &q, sizeof(q)))
		ret = -EFAULT;
out_put:
	mockdma_handle_put(h);
	return ret;
}

static int mockdma_ioctl_engine(struct mockdma_file *mf,
				struct mockdma_engine __user *uarg,
				unsigned int cmd)
{
	struct mockdma_handle *h;
	struct mockdma_engine e;
	int ret = 0;

	if (copy_from_user(&e, uarg, sizeof(e)))
		return -EFAULT;
	if (cmd == MOCKDMA_IOC_ENGINE_START) {
		if ((e.flags & ~MOCKDMA_ENGINE_VALID) ||
		    e.interval_us > MOCKDMA_ENGINE_MAX_INTERVAL_US)
			return -EINVAL;
	} else if (e.flags ||
		   (!mockdma_mutated(MOCKDMA_MUT_ENGINE_LAX) &&
		    (e.first_page || e.npages || e.interval_us))) {
		/* STOP and STATUS take the handle only, as DISARM. */
		return -EINVAL;
	}

	ret = mockdma_lookup(mf, e.handle, &h);
	if (ret)
		return ret;

	switch (cmd) {
	case MOCKDMA_IOC_ENGINE_START:
		ret = mockdma_engine_start(h, &e);
		break;
	case MOCKDMA_IOC_ENGINE_STOP:
		mockdma_engine_stop(h);
		break;
	}
	if (!ret) {
		mockdma_engine_status(h, &e);
		if (copy_to_user(uarg, &e, sizeof(e)))
			ret = -EFAULT;
	}
	mockdma_handle_put(h);
	return ret;
}

static int mockdma_ioctl_inject(struct mockdma_file *mf,
				struct mockdma_inject __user *uarg, bool arm)
{
	struct mockdma_handle *h;
	struct mockdma_inject in;
	int ret;

	if (copy_from_user(&in, uarg, sizeof(in)))
		return -EFAULT;
	if (in.flags || in.pad || in.point >= MOCKDMA_INJECT_COUNT)
		return -EINVAL;
	if (arm && (!in.length || in.length > PAGE_SIZE ||
		    in.offset > PAGE_SIZE - in.length ||
		    !IS_ALIGNED(in.offset | in.length, MOCKDMA_STAMP_SIZE)))
		return -EINVAL;
	if (!arm && (in.first_page || in.npages || in.offset || in.length ||
		     in.seq))
		return -EINVAL;

	ret = mockdma_lookup(mf, in.handle, &h);
	if (ret)
		return ret;
	if (!(h->pin_flags & MOCKDMA_PIN_WRITE)) {
		ret = -EPERM;
		goto out_put;
	}

	in.armed = 0;
	in.fired = 0;
	if (arm)
		ret = mockdma_inject_arm(h, &in);
	else
		mockdma_inject_disarm(h, in.point, &in);
	if (!ret && copy_to_user(uarg, &in, sizeof(in)))
		ret = -EFAULT;
out_put:
	mockdma_handle_put(h);
	return ret;
}

static int mockdma_ioctl_get_info(struct mockdma_file *mf,
				  struct mockdma_info __user *uarg)
{
	bool stale = mockdma_mutated(MOCKDMA_MUT_INFO_STALE);
	struct mockdma_info info;

	if (copy_from_user(&info, uarg, sizeof(info)))
		return -EFAULT;
	if (info.flags)
		return -EINVAL;
	info = (struct mockdma_info) {
		.abi_version = MOCKDMA_ABI_VERSION,
		.max_pin_pages = stale ? MOCKDMA_MAX_PIN_PAGES_DEFAULT :
					 READ_ONCE(mockdma_max_pin_pages),
		.max_fd_pages = stale ? MOCKDMA_MAX_FD_PAGES_DEFAULT :
					READ_ONCE(mockdma_max_fd_pages),
		.inject_max_pages = MOCKDMA_INJECT_MAX_PAGES,
		.inject_points = MOCKDMA_INJECT_COUNT,
		.engine_max_interval_us = MOCKDMA_ENGINE_MAX_INTERVAL_US,
		.tick_us = jiffies_to_usecs(1),
		.page_size = PAGE_SIZE,
		.stamp_size = MOCKDMA_STAMP_SIZE,
	};
	if (IS_ENABLED(CONFIG_KPROBES))
		info.features |= MOCKDMA_FEATURE_INJECT_KPROBES;
	if (mf->show_pfn)
		info.features |= MOCKDMA_FEATURE_SHOW_PFN;
	if (!mockdma_mutated(MOCKDMA_MUT_MEMLOCK_PER_MM))
		info.features |= MOCKDMA_FEATURE_MEMLOCK_USER;
	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long mockdma_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct mockdma_file *mf = file->private_data;
	void __user *uarg = (void __user *)arg;
	int ret;

	/*
	 * Verbs that pin, write or change the device need an fd opened for
	 * writing, as write(2) does; DMA_READ, QUERY and ENGINE_STATUS only
	 * look.
	 */
	switch (cmd) {
	case MOCKDMA_IOC_PIN:
	case MOCKDMA_IOC_UNPIN:
	case MOCKDMA_IOC_DMA_WRITE:
	case MOCKDMA_IOC_ENGINE_START:
	case MOCKDMA_IOC_ENGINE_STOP:
	case MOCKDMA_IOC_INJECT_ARM:
	case MOCKDMA_IOC_INJECT_DISARM:
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		break;
	}

	switch (cmd) {
	case MOCKDMA_IOC_PIN:
		ret = mockdma_ioctl_pin(mf, uarg);
		if (ret)
			atomic64_inc(&mockdma_stats.pin_errors_total);
		return ret;
	case MOCKDMA_IOC_UNPIN:
		return mockdma_ioctl_unpin(mf, uarg);
	case MOCKDMA_IOC_DMA_WRITE:
		return mockdma_ioctl_dma(mf, uarg, true);
	case MOCKDMA_IOC_DMA_READ:
		return mockdma_ioctl_dma(mf, uarg, false);
	case MOCKDMA_IOC_QUERY:
		return mockdma_ioctl_query(mf, uarg);
	case MOCKDMA_IOC_ENGINE_START:
	case MOCKDMA_IOC_ENGINE_STOP:
	case MOCKDMA_IOC_ENGINE_STATUS:
		return mockdma_ioctl_engine(mf, uarg, cmd);
	case MOCKDMA_IOC_INJECT_ARM:
		return mockdma_ioctl_inject(mf, uarg, true);
	case MOCKDMA_IOC_INJECT_DISARM:
		return mockdma_ioctl_inject(mf, uarg, false);
	case MOCKDMA_IOC_GET_INFO:
		return mockdma_ioctl_get_info(mf, uarg);
	default:
		/* Documentation/driver-api/ioctl.rst: not -EINVAL. */
		return -ENOTTY;
	}
}

static int mockdma_open(struct inode *inode, struct file *file)
{
	struct mockdma_file *mf;
	int ret;

	ret = nonseekable_open(inode, file);
	if (ret)
		return ret;

	mf = kzalloc(sizeof(*mf), GFP_KERNEL_ACCOUNT);
	if (!mf)
		return -ENOMEM;
	mutex_init(&mf->lock);
	xa_init_flags(&mf->handles, XA_FLAGS_ALLOC1);
	mf->tgid = task_tgid_nr(current);
	mf->next_id = 1;
	mf->show_pfn = file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN);

	mutex_lock(&mockdma_files_lock);
	list_add_tail(&mf->node, &mockdma_files);
	mutex_unlock(&mockdma_files_lock);

	/* misc_open() left the miscdevice here; we do not need it. */
	file->private_data = mf;
	return 0;
}

/*
 * Last close of the fd (explicit, or at exit): release every handle still
 * held, like gup_test_release() and ib_umem_release() on MR teardown.  A
 * correct driver tearing down dirties what its device may have written, so
 * a handle pinned for write is released dirty if the device wrote into it
 * at all (a DMA_WRITE, an engine pass or a fired injection; decided when
 * its last reference goes, so writes by a holder that outlives the fd
 * count too), and clean otherwise.
 */
static int mockdma_release(struct inode *inode, struct file *file)
{
	struct mockdma_file *mf = file->private_data;
	struct mockdma_handle *h;
	unsigned long id;

	mutex_lock(&mockdma_files_lock);
	list_del(&mf->node);
	mutex_unlock(&mockdma_files_lock);

	/* No ioctl can be running: the file has no references left. */
	mutex_lock(&mf->lock);
	xa_for_each(&mf->handles, id, h) {
		mockdma_table_remove(mf, id);
		mutex_unlock(&mf->lock);
		mockdma_handle_retire(h, MOCKDMA_RELEASE_DIRTY_IF_WRITTEN);
		mutex_lock(&mf->lock);
	}
	mutex_unlock(&mf->lock);

	xa_destroy(&mf->handles);
	mutex_destroy(&mf->lock);
	kfree(mf);
	return 0;
}

static const struct file_operations mockdma_fops = {
	.owner		= THIS_MODULE,
	.open		= mockdma_open,
	.release	= mockdma_release,
	.unlocked_ioctl	= mockdma_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	/*
	 * No .llseek: mockdma_open() calls nonseekable_open(), so lseek() is
	 * -ESPIPE (no_llseek was NULL from 6.0 and is gone in 6.12).
	 */
};

/* devtmpfs creates /dev/mockdma with this mode: root only. */
static struct miscdevice mockdma_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mockdma",
	.fops	= &mockdma_fops,
	.mode	= 0600,
};

static int __init mockdma_init(void)
{
	int ret;

	ret = mockdma_engine_init();
	if (ret)
		return ret;
	ret = mockdma_inject_init();
	if (ret)
		goto err_engine;
	mockdma_debugfs_init();
	ret = misc_register(&mockdma_misc);
	if (ret)
		goto err_debugfs;
	pr_info("test module loaded: /dev/mockdma pins user memory for fake DMA, not for production use\n");
	return 0;

err_debugfs:
	mockdma_debugfs_exit();
	mockdma_inject_exit();
err_engine:
	mockdma_engine_exit();
	return ret;
}
module_init(mockdma_init);

static void __exit mockdma_exit(void)
{
	/* No fd can be open: each holds a module reference via fops.owner. */
	misc_deregister(&mockdma_misc);
	mockdma_debugfs_exit();
	mockdma_inject_exit();
	mockdma_engine_exit();
}
module_exit(mockdma_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("pinlab developers");
MODULE_DESCRIPTION("Mock DMA device: long-term GUP pinning test module");
