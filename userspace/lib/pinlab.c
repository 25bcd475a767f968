// SPDX-License-Identifier: GPL-2.0
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/loop.h>
#include <linux/magic.h>

#include "pinlab.h"

size_t pl_page_size;

#define PL_SMALL_PAGES	16
#define PL_HUGE		(2UL << 20)

static const char *const mem_names[PL_MEM_COUNT] = {
	"anon", "thp", "memfd", "hugetlb",
	"ext4-shared", "ext4-private", "xfs-shared", "xfs-private",
};

const struct pl_pin_kind pl_pin_kinds[PL_PIN_KINDS] = {
	[PL_PIN_LONGTERM] = { "pin_longterm", MOCKDMA_METHOD_PIN_FAST,
			      MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE },
	[PL_PIN_GUP] = { "gup", MOCKDMA_METHOD_GUP, MOCKDMA_PIN_WRITE },
};

const char *pl_mem_name(enum pl_mem mem)
{
	return mem_names[mem];
}

int pl_mem_is_file(enum pl_mem mem)
{
	return mem >= PL_MEM_EXT4_SHARED;
}

int pl_mem_is_private_file(enum pl_mem mem)
{
	return mem == PL_MEM_EXT4_PRIVATE || mem == PL_MEM_XFS_PRIVATE;
}

/* The byte the backing file holds before any device write. */
static void *read_disk(struct pl_buf *buf);

static unsigned char original_byte(size_t off)
{
	return 0xa5 ^ (unsigned char)(off / 4096);
}

static int file_setup(struct pl_buf *buf, const char *dir, int shared)
{
	static int serial;
	unsigned char *chunk;
	size_t off;

	snprintf(buf->path, sizeof(buf->path), "%s/pinlab-%d-%d", dir,
		 getpid(), serial++);
	buf->fd = open(buf->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (buf->fd < 0)
		return -errno;
	chunk = malloc(pl_page_size);
	if (!chunk)
		return -ENOMEM;
	for (off = 0; off < buf->len; off += pl_page_size) {
		memset(chunk, original_byte(off), pl_page_size);
		if (pwrite(buf->fd, chunk, pl_page_size, off) != (ssize_t)pl_page_size) {
			free(chunk);
			return -EIO;
		}
	}
	free(chunk);
	if (fsync(buf->fd))
		return -errno;
	buf->map = mmap(NULL, buf->len, PROT_READ | PROT_WRITE,
			shared ? MAP_SHARED : MAP_PRIVATE, buf->fd, 0);
	if (buf->map == MAP_FAILED) {
		buf->map = NULL;
		return -errno;
	}
	buf->map_len = buf->len;
	buf->addr = buf->map;
	/* Fault the pages in through the mapping, as an application would. */
	for (off = 0; off < buf->len; off += pl_page_size)
		(void)*(volatile char *)(buf->addr + off);
	return 0;
}

int pl_buf_setup(struct pl_buf *buf, enum pl_mem mem)
{
	if (!pl_page_size)
		pl_page_size = sysconf(_SC_PAGESIZE);
	return pl_buf_setup_len(buf, mem, PL_SMALL_PAGES * pl_page_size);
}

int pl_buf_setup_len(struct pl_buf *buf, enum pl_mem mem, size_t len)
{
	const char *ext4 = getenv("PINLAB_EXT4"), *xfs = getenv("PINLAB_XFS");

	if (!pl_page_size)
		pl_page_size = sysconf(_SC_PAGESIZE);
	memset(buf, 0, sizeof(*buf));
	buf->mem = mem;
	buf->fd = -1;
	buf->len = len;
	switch (mem) {
	case PL_MEM_ANON:
		buf->map = mmap(NULL, buf->len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		buf->map_len = buf->len;
		break;
	case PL_MEM_THP:
		/* Over-allocate to carve out a PMD-aligned 2 MiB range. */
		buf->len = PL_HUGE;
		buf->map_len = 2 * PL_HUGE;
		buf->map = mmap(NULL, buf->map_len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case PL_MEM_MEMFD:
		buf->fd = memfd_create("pinlab", 0);
		if (buf->fd < 0 || ftruncate(buf->fd, buf->len))
			return -errno;
		buf->map = mmap(NULL, buf->len, PROT_READ | PROT_WRITE,
				MAP_SHARED, buf->fd, 0);
		buf->map_len = buf->len;
		break;
	case PL_MEM_HUGETLB:
		buf->len = buf->map_len = PL_HUGE;
		buf->map = mmap(NULL, buf->len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (buf->map == MAP_FAILED) {
			buf->map = NULL;
			return -EOPNOTSUPP;
		}
		break;
	case PL_MEM_EXT4_SHARED:
	case PL_MEM_EXT4_PRIVATE:
		return file_setup(buf, ext4 ? ext4 : "/mnt/ext4",
				  mem == PL_MEM_EXT4_SHARED);
	case PL_MEM_XFS_SHARED:
	case PL_MEM_XFS_PRIVATE:
		return file_setup(buf, xfs ? xfs : "/mnt/xfs",
				  mem == PL_MEM_XFS_SHARED);
	default:
		return -EINVAL;
	}
	if (buf->map == MAP_FAILED) {
		buf->map = NULL;
		return -errno;
	}
	buf->addr = buf->map;
	if (mem == PL_MEM_THP) {
		buf->addr = (char *)(((unsigned long)buf->map + PL_HUGE - 1) &
				     ~(PL_HUGE - 1));
		if (madvise(buf->addr, buf->len, MADV_HUGEPAGE))
			return -errno;
	}
	memset(buf->addr, 0x5a, buf->len);
	return 0;
}

void pl_buf_teardown(struct pl_buf *buf)
{
	if (buf->map)
		munmap(buf->map, buf->map_len);
	if (buf->fd >= 0)
		close(buf->fd);
	if (buf->path[0])
		unlink(buf->path);
	buf->map = NULL;
	buf->fd = -1;
	buf->path[0] = 0;
}

int pl_buf_setup_pinned(struct pl_buf *buf, enum pl_mem mem, int fd,
			__u32 method, __u32 flags, __u32 *handle)
{
	int ret = pl_buf_setup(buf, mem);

	if (!ret)
		ret = pl_pin(fd, buf->addr, buf->len, method, flags, handle);
	if (ret)
		pl_buf_teardown(buf);
	return ret;
}

int pl_open_or_skip(void)
{
	int fd;

	pl_page_size = sysconf(_SC_PAGESIZE);
	ksft_print_header();
	fd = open("/dev/mockdma", O_RDWR);
	if (fd < 0 && errno == ENOENT)
		ksft_exit_skip("/dev/mockdma missing: load mockdma.ko\n");
	if (fd < 0 && errno == EACCES)
		ksft_exit_skip("/dev/mockdma needs root\n");
	if (fd < 0)
		ksft_exit_fail_msg("open /dev/mockdma: %s\n", strerror(errno));
	return fd;
}

int pl_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, cmd, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

int pl_info(int fd, struct mockdma_info *info)
{
	memset(info, 0, sizeof(*info));
	return pl_ioctl(fd, MOCKDMA_IOC_GET_INFO, info);
}

int pl_pin(int fd, void *addr, size_t len, __u32 method, __u32 flags,
	   __u32 *handle)
{
	struct mockdma_pin pin = {
		.addr = (unsigned long)addr, .length = len,
		.method = method, .flags = flags,
	};
	int ret;

	/* The mutation: every long-term pin asked for becomes short-term. */
	if (pl_mutated("longterm-dropped"))
		pin.flags &= ~MOCKDMA_PIN_LONGTERM;
	ret = pl_ioctl(fd, MOCKDMA_IOC_PIN, &pin);
	if (!ret && handle)
		*handle = pin.handle;
	return ret;
}

int pl_pin_refusal(enum pl_mem mem, __u32 method, __u32 flags)
{
	const __u32 lt_w = MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE;

	if (!pl_kernel_refuses_longterm_file_write() ||
	    (flags & lt_w) != lt_w ||
	    (mem != PL_MEM_EXT4_SHARED && mem != PL_MEM_XFS_SHARED))
		return 0;
	/* mockdma itself refuses the other methods with FOLL_LONGTERM. */
	if (method != MOCKDMA_METHOD_PIN_FAST && method != MOCKDMA_METHOD_PIN)
		return 0;
	return EFAULT;
}

int pl_check_refused(int fd, struct pl_buf *buf, __u32 method, __u32 flags)
{
	int want = pl_pin_refusal(buf->mem, method, flags);
	__u32 h;
	int ret;

	ret = pl_pin(fd, buf->addr, buf->len, method, flags, &h);
	if (!ret)
		pl_unpin(fd, h, 0);
	if (-ret != want) {
		ksft_print_msg("%s: %s pin flags %#x returned %s, this kernel's rule says %s\n",
			       pl_mem_name(buf->mem),
			       method == MOCKDMA_METHOD_PIN ? "pin" : "pin_fast",
			       flags, ret ? pl_errno_name(-ret) : "pinned",
			       want ? pl_errno_name(want) : "pinned");
		return 0;
	}
	return 1;
}

int pl_refusal_checked(int fd, enum pl_mem mem, __u32 method, __u32 flags,
		       const char *name)
{
	int want = pl_pin_refusal(mem, method, flags), ok;
	struct pl_buf buf;

	if (!want)
		return -1;
	ok = !pl_buf_setup(&buf, mem);
	if (ok) {
		ok = pl_check_refused(fd, &buf, method, flags);
		pl_buf_teardown(&buf);
	}
	ksft_print_msg("[INFO] %s: the long-term write pin is refused (%s): nothing to write behind the filesystem's back\n",
		       name, pl_errno_name(want));
	return ok;
}

__u32 pl_device_write_flags(enum pl_mem mem, __u32 method)
{
	__u32 lt_w = MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE;

	return pl_pin_refusal(mem, method, lt_w) ? MOCKDMA_PIN_WRITE : lt_w;
}

int pl_buf_setup_device_pin(struct pl_buf *buf, enum pl_mem mem, int fd,
			    __u32 method, __u32 *handle)
{
	__u32 lt_w = MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE;
	int ret = pl_buf_setup(buf, mem);

	if (ret)
		return ret;
	if (pl_pin_refusal(mem, method, lt_w)) {
		if (!pl_check_refused(fd, buf, method, lt_w)) {
			pl_buf_teardown(buf);
			return -EPROTO;
		}
		ksft_print_msg("[INFO] %s: long-term write pin refused (%s) as on 6.5+; the device works on a short-term FOLL_PIN\n",
			       pl_mem_name(mem),
			       pl_errno_name(pl_pin_refusal(mem, method, lt_w)));
	}
	ret = pl_pin(fd, buf->addr, buf->len, method,
		     pl_device_write_flags(mem, method), handle);
	if (ret)
		pl_buf_teardown(buf);
	return ret;
}

/*
 * Mutations (make mutate, $PINLAB_MUTATE): deliberately broken behaviour of
 * the fixture's own side, to show which verdicts turn red without it.
 */
int pl_mutated(const char *name)
{
	const char *m = getenv("PINLAB_MUTATE");

	return m && !strcmp(m, name);
}

int pl_fsync(int fd)
{
	if (pl_mutated("skip-fsync"))
		return 0;
	return fsync(fd) ? -errno : 0;
}

int pl_unpin(int fd, __u32 handle, __u32 flags)
{
	struct mockdma_unpin unpin = { .handle = handle, .flags = flags };

	if (pl_mutated("clean-unpin"))
		unpin.flags &= ~MOCKDMA_UNPIN_DIRTY;

	return pl_ioctl(fd, MOCKDMA_IOC_UNPIN, &unpin);
}

int pl_dma_write(int fd, __u32 handle, __u64 off, __u64 len, __u32 flags,
		 __u32 *seq)
{
	struct mockdma_dma dma = {
		.handle = handle, .flags = flags, .offset = off, .length = len,
	};
	int ret = pl_ioctl(fd, MOCKDMA_IOC_DMA_WRITE, &dma);

	if (!ret && seq)
		*seq = dma.seq;
	return ret;
}

int pl_dma_read(int fd, __u32 handle, __u64 off, __u64 len, void *dst)
{
	struct mockdma_dma dma = {
		.handle = handle, .offset = off, .length = len,
		.user_buf = (unsigned long)dst,
	};

	return pl_ioctl(fd, MOCKDMA_IOC_DMA_READ, &dma);
}

int pl_query(int fd, __u32 handle, __u64 first, __u64 n,
	     struct mockdma_page_state *st)
{
	struct mockdma_query q = {
		.handle = handle, .first_page = first, .npages = n,
		.pages = (unsigned long)st,
	};
	int ret = pl_ioctl(fd, MOCKDMA_IOC_QUERY, &q);

	if (!ret && q.npages != n)
		return -ERANGE;
	return ret;
}

int pl_engine_start(int fd, __u32 handle, __u64 first, __u64 n,
		    __u32 interval_us, __u32 flags)
{
	struct mockdma_engine e = {
		.handle = handle, .flags = flags, .first_page = first,
		.npages = n, .interval_us = interval_us,
	};

	return pl_ioctl(fd, MOCKDMA_IOC_ENGINE_START, &e);
}

int pl_engine_stop(int fd, __u32 handle, struct mockdma_engine *st)
{
	struct mockdma_engine e = { .handle = handle };
	int ret = pl_ioctl(fd, MOCKDMA_IOC_ENGINE_STOP, &e);

	if (!ret && st)
		*st = e;
	return ret;
}

int pl_engine_wait(int fd, __u32 handle, struct mockdma_engine *st,
		   unsigned int more, unsigned int timeout_ms)
{
	__u64 target = st->passes + more;
	unsigned int waited;

	for (waited = 0; waited <= timeout_ms; waited++) {
		struct mockdma_engine e = { .handle = handle };
		int ret = pl_ioctl(fd, MOCKDMA_IOC_ENGINE_STATUS, &e);

		if (ret)
			return ret;
		*st = e;
		if (e.passes >= target)
			return 0;
		usleep(1000);
	}
	return -ETIME;
}

int pl_inject_arm(int fd, __u32 handle, __u32 point, __u64 first, __u64 n,
		  __u32 offset, __u32 length, __u32 *seq)
{
	struct mockdma_inject in = {
		.handle = handle, .point = point, .first_page = first,
		.npages = n, .offset = offset, .length = length, .seq = *seq,
	};
	int ret = pl_ioctl(fd, MOCKDMA_IOC_INJECT_ARM, &in);

	if (!ret)
		*seq = in.seq;
	return ret;
}

int pl_inject_disarm(int fd, __u32 handle, __u32 point, __u64 *fired)
{
	struct mockdma_inject in = { .handle = handle, .point = point };
	int ret = pl_ioctl(fd, MOCKDMA_IOC_INJECT_DISARM, &in);

	if (!ret && fired)
		*fired = in.fired;
	return ret;
}

static int page_is_original(const unsigned char *page, size_t index)
{
	size_t i;

	for (i = 0; i < pl_page_size; i++)
		if (page[i] != original_byte(index * pl_page_size))
			return 0;
	return 1;
}

void pl_census_page(const void *page, size_t index, __u32 handle, __u32 seq,
		    struct pl_census *c)
{
	size_t per_page = pl_page_size / sizeof(struct mockdma_stamp), i;
	const struct mockdma_stamp *s = page;
	__u32 first_seq = s[0].seq;

	for (i = 0; i < per_page; i++)
		if (s[i].magic != MOCKDMA_STAMP_MAGIC ||
		    s[i].handle != handle || s[i].page_index != index ||
		    s[i].seq != first_seq)
			break;
	if (i == per_page && first_seq == seq)
		c->fresh++;
	else if (i == per_page)
		c->older++;
	else if (page_is_original(page, index))
		c->original++;
	else
		c->torn++;
}

void pl_census(const void *data, size_t len, __u32 handle, __u32 seq,
	       struct pl_census *c)
{
	size_t p;

	memset(c, 0, sizeof(*c));
	for (p = 0; p < len / pl_page_size; p++)
		pl_census_page((const char *)data + p * pl_page_size, p,
			       handle, seq, c);
}

const char *const pl_state_name[] = {
	"fresh", "original", "torn", "older", "mixed",
};

enum pl_state pl_census_state(const struct pl_census *c, size_t np)
{
	if (c->fresh == np)
		return PL_FRESH;
	if (c->original == np)
		return PL_ORIGINAL;
	if (c->torn == np)
		return PL_TORN;
	if (c->older == np)
		return PL_OLDER;
	return PL_MIXED;
}

const char *pl_census_outcome(const struct pl_census *c, size_t np,
			      const char *missing, char *t, size_t size)
{
	if (c->fresh == np)
		snprintf(t, size, "OK");
	else if (c->eio)
		snprintf(t, size, "EIO (%zu)", c->eio);
	else if (c->torn)
		snprintf(t, size, "TORN (%zu)", c->torn);
	else
		snprintf(t, size, "%s (%zu)", missing, np - c->fresh);
	return t;
}

int pl_pageout_write_unpin(int fd, struct pl_buf *buf, __u32 handle,
			   int dirty, __u32 *seq, size_t *priv_before,
			   size_t *priv_after)
{
	size_t np = buf->len / pl_page_size, prev;
	int ok = 1, i;

	*seq = 0;
	ok &= !pl_fsync(buf->fd);
	ok &= !pl_count_private(fd, handle, np, priv_before);
	/*
	 * MADV_PAGEOUT is best effort: a folio it finds off the LRU for a
	 * moment (a per-CPU batch, a concurrent isolation) is skipped.  Ask
	 * again, at most three times in all, while it still strips buffers.
	 */
	for (i = 0, prev = *priv_before; ok && i < 3; i++) {
		ok &= !madvise(buf->addr, buf->len, MADV_PAGEOUT);
		ok &= !pl_count_private(fd, handle, np, priv_after);
		if (!*priv_after || *priv_after == prev)
			break;
		prev = *priv_after;
	}
	ok &= !pl_dma_write(fd, handle, 0, buf->len, 0, seq);
	ok &= pl_device_wrote(buf, handle, *seq);
	ok &= !pl_unpin(fd, handle, dirty ? MOCKDMA_UNPIN_DIRTY : 0);
	ok &= !pl_fsync(buf->fd);
	return ok;
}

int pl_count_private(int fd, __u32 handle, size_t np, size_t *n)
{
	struct mockdma_page_state st[64];
	size_t i;
	int ret;

	if (np > 64)
		return -E2BIG;
	ret = pl_query(fd, handle, 0, np, st);
	*n = 0;
	for (i = 0; !ret && i < np; i++)
		*n += !!(st[i].flags & MOCKDMA_PAGE_PRIVATE);
	return ret;
}

int pl_disk_census(struct pl_buf *buf, __u32 handle, __u32 seq,
		   struct pl_census *c)
{
	void *data = read_disk(buf);

	pl_census(data, buf->len, handle, seq, c);
	free(data);
	return 0;
}

int pl_drop_cache_census_pages(struct pl_buf *buf, __u32 handle, __u32 seq,
			       struct pl_census *c)
{
	size_t np = buf->len / pl_page_size, p;
	char *page = malloc(pl_page_size);
	int ret;

	memset(c, 0, sizeof(*c));
	if (buf->map)
		munmap(buf->map, buf->map_len);
	buf->map = NULL;
	if (!page)
		return -ENOMEM;
	ret = pl_cache_evict_clean();
	for (p = 0; p < np && !ret; p++) {
		ssize_t got = pread(buf->fd, page, pl_page_size,
				    p * pl_page_size);

		if (got < 0 && errno == EIO)
			c->eio++;
		else if (got == (ssize_t)pl_page_size)
			pl_census_page(page, p, handle, seq, c);
		else
			ret = pl_cache_read(buf->fd, p * pl_page_size,
					    pl_page_size, page);
	}
	free(page);
	return ret;
}

/* Pages of the first @len bytes of @fd in the page cache (mincore), or -errno. */
static long pl_cache_resident(int fd, size_t len)
{
	size_t np = (len + pl_page_size - 1) / pl_page_size, p;
	unsigned char *vec = malloc(np);
	void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	long n = 0;

	if (!vec || map == MAP_FAILED || mincore(map, len, vec)) {
		n = -errno;
	} else {
		for (p = 0; p < np; p++)
			n += vec[p] & 1;
	}
	if (map != MAP_FAILED)
		munmap(map, len);
	free(vec);
	return n;
}

int pl_drop_cache_census(struct pl_buf *buf, __u32 handle, __u32 seq,
			 struct pl_census *c)
{
	char *data = malloc(buf->len);
	int ret;

	memset(c, 0, sizeof(*c));
	if (buf->map)
		munmap(buf->map, buf->map_len);
	buf->map = NULL;
	if (!data)
		return -ENOMEM;
	/* Evict without writing back: what survives is what the kernel kept. */
	ret = pl_cache_evict_clean();
	/*
	 * drop_caches passes over a folio that sits in a CPU's LRU batch
	 * (its extra reference), e.g. one just unpinned: seen on the debug
	 * kernel, 5 of 16 pages left.  If any page stayed, drain the
	 * batches and evict once more.
	 */
	if (!ret && pl_cache_resident(buf->fd, buf->len) > 0) {
		ret = pl_lru_drain_all();
		if (!ret)
			ret = pl_cache_evict_clean();
	}
	if (!ret)
		ret = pl_cache_read(buf->fd, 0, buf->len, data);
	if (!ret)
		pl_census(data, buf->len, handle, seq, c);
	free(data);
	return ret;
}

int pl_device_wrote(struct pl_buf *buf, __u32 handle, __u32 seq)
{
	size_t np = buf->len / pl_page_size, n;

	if (!buf->addr) {
		ksft_print_msg("precondition: buffer unmapped\n");
		return 0;
	}
	n = pl_count_stamped(buf->addr, buf->len, handle, 0, seq);
	if (n != np)
		ksft_print_msg("precondition failed: the mapping holds the device's write (handle %u seq %u) in %zu/%zu pages\n",
			       handle, seq, n, np);
	return n == np;
}

int pl_cache_census(struct pl_buf *buf, __u32 handle, __u32 seq,
		    struct pl_census *c)
{
	memset(c, 0, sizeof(*c));
	if (!buf->addr) {
		ksft_print_msg("oracle: cache census of an unmapped buffer\n");
		return -EFAULT;
	}
	pl_census(buf->addr, buf->len, handle, seq, c);
	return 0;
}

/* What pl_knobs_set() changed: the value found, by path. */
#define PL_KNOBS_MAX	16
static struct {
	char path[128], val[64];
} pl_knobs_saved[PL_KNOBS_MAX];
static int pl_knobs_nsaved;
static pid_t pl_knobs_pid;

/*
 * @path's value as it can be written back: a choice list ("always
 * [madvise] never") reads as the selected word.  0 or -errno.
 */
static int pl_knob_read(const char *path, char *val, size_t size)
{
	int fd = open(path, O_RDONLY), ret = 0;
	char *open_br, *close_br;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, val, size - 1);
	if (n < 0)
		ret = -errno;
	close(fd);
	if (ret)
		return ret;
	if (n == 0)
		return -ENODATA;
	val[n] = 0;
	val[strcspn(val, "\n")] = 0;
	open_br = strchr(val, '[');
	close_br = open_br ? strchr(open_br, ']') : NULL;
	if (close_br) {
		*close_br = 0;
		memmove(val, open_br + 1, strlen(open_br + 1) + 1);
	}
	return 0;
}

/* Unwinds to @keep saved knobs, last set first. */
static void pl_knobs_unwind(int keep)
{
	while (pl_knobs_nsaved > keep) {
		int i = --pl_knobs_nsaved;

		if (pl_write_file(pl_knobs_saved[i].path, pl_knobs_saved[i].val))
			ksft_print_msg("cannot restore %s to %s\n",
				       pl_knobs_saved[i].path,
				       pl_knobs_saved[i].val);
	}
}

void pl_knobs_restore(void)
{
	/* a forked child that exit()s leaves its parent's knobs alone */
	if (pl_knobs_nsaved && getpid() == pl_knobs_pid)
		pl_knobs_unwind(0);
}

/*
 * vm.dirty_bytes and vm.dirty_ratio (and the background pair) are one
 * limit: writing either zeroes the other.  The one of the pair in force
 * (non-zero) is what has to be written back.
 */
static int pl_knob_save(const char *path, char *saved, size_t psize,
			char *val, size_t vsize)
{
	static const char *const pairs[][2] = {
		{ "/proc/sys/vm/dirty_bytes", "/proc/sys/vm/dirty_ratio" },
		{ "/proc/sys/vm/dirty_background_bytes",
		  "/proc/sys/vm/dirty_background_ratio" },
	};
	size_t p, side;
	int ret;

	if (snprintf(saved, psize, "%s", path) >= (int)psize)
		return -ENAMETOOLONG;
	ret = pl_knob_read(saved, val, vsize);
	if (ret || strcmp(val, "0"))
		return ret;
	for (p = 0; p < ARRAY_SIZE(pairs); p++)
		for (side = 0; side < 2; side++)
			if (!strcmp(path, pairs[p][side])) {
				snprintf(saved, psize, "%s", pairs[p][!side]);
				return pl_knob_read(saved, val, vsize);
			}
	return 0;
}

int pl_knobs_set(const struct pl_knob *k, size_t n)
{
	int keep = pl_knobs_nsaved, ret;
	static int at_exit;
	size_t i;

	if (!at_exit && !atexit(pl_knobs_restore))
		at_exit = 1;
	pl_knobs_pid = getpid();
	for (i = 0; i < n; i++) {
		if (pl_knobs_nsaved == PL_KNOBS_MAX) {
			ksft_print_msg("pl_knobs_set: more than %d knobs\n",
				       PL_KNOBS_MAX);
			ret = -ENOSPC;
			goto undo;
		}
		ret = pl_knob_save(k[i].path,
				   pl_knobs_saved[pl_knobs_nsaved].path,
				   sizeof(pl_knobs_saved[0].path),
				   pl_knobs_saved[pl_knobs_nsaved].val,
				   sizeof(pl_knobs_saved[0].val));
		if (ret) {
			ksft_print_msg("cannot read %s: %s\n", k[i].path,
				       strerror(-ret));
			goto undo;
		}
		pl_knobs_nsaved++;
		ret = pl_write_file(k[i].path, k[i].val);
		if (ret) {
			ksft_print_msg("cannot set %s to %s: %s\n", k[i].path,
				       k[i].val, strerror(-ret));
			goto undo;
		}
	}
	return 0;
undo:
	pl_knobs_unwind(keep);
	return ret;
}

long pl_read_long(const char *path)
{
	char v[64];

	if (pl_knob_read(path, v, sizeof(v)) || v[0] < '0' || v[0] > '9')
		return -1;
	return strtol(v, NULL, 10);
}

int pl_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Which kernel this is, from the kernel itself, never from a sysctl (a test
 * can flip one and leave it so):
 *   our builds     ci/build-kernel.sh names them 6.1.N-pinlab-base and
 *                  6.1.N-pinlab-patched
 *   Debian's       6.1.0-N-<flavour> (stock) and 6.12.N+debV-<flavour>
 *                  (stock612), built by Debian: /proc/version names
 *                  debian-kernel@lists.debian.org (a tree a user builds from
 *                  linux-source-6.12 has the same version but not Debian's
 *                  config, and is a user kernel)
 *   a user kernel  anything else (make check KERNELS=/path/to/linux): its
 *                  expectations are the series' if the series is in it (a
 *                  function of patches/ in /proc/kallsyms), else those of
 *                  its version: up to 6.4 as 6.1's, from 6.5 as 6.12's
 *                  (pinlab places no kernel outside 6.1..6.12: below 6.1
 *                  takes 6.1's, above 6.12 takes 6.12's, and the harness
 *                  runs it in observe mode, ci/pinlab.sh)
 */
static const char *const kernel_names[] = {
	[PL_KERNEL_STOCK] = "stock", [PL_KERNEL_BASE] = "base",
	[PL_KERNEL_PATCHED] = "patched", [PL_KERNEL_STOCK612] = "stock612",
};
/* A user kernel's policy names, by the expectations it takes. */
static const char *const user_names[] = {
	[PL_KERNEL_STOCK] = "user-6.1", [PL_KERNEL_PATCHED] = "user-patched",
	[PL_KERNEL_STOCK612] = "user-6.12",
};
static int kernel = -1, kernel_user, kernel_version;

/* A release's version as major * 1000 + minor ("6.12.95+x" -> 6012), or -1. */
static int release_version(const char *release)
{
	unsigned int major, minor;

	if (sscanf(release, "%u.%u", &major, &minor) != 2)
		return -1;
	return major * 1000 + minor;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && !strcmp(s + n - m, suffix);
}

/* /proc/version names Debian's build daemon: Debian built this kernel. */
static int built_by_debian(void)
{
	char line[512] = "";
	FILE *f = fopen("/proc/version", "r");

	if (!f)
		ksft_exit_fail_msg("/proc/version: %s\n", strerror(errno));
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	return strstr(line, "(debian-kernel@lists.debian.org)") != NULL;
}

/*
 * The series is in this kernel: /proc/kallsyms lists its park hook, a
 * global function of mm/dma_pin_lru.c (patches/0002) called from mm/gup.c,
 * so never inlined away; the names are listed whatever kptr_restrict says.
 */
int pl_kernel_has_series(void)
{
	static int has = -1;
	char line[256];
	FILE *f;

	if (has >= 0)
		return has;
	f = fopen("/proc/kallsyms", "r");
	if (!f)
		ksft_exit_fail_msg("/proc/kallsyms: %s (the series is detected there)\n",
				   strerror(errno));
	has = 0;
	while (!has && fgets(line, sizeof(line), f)) {
		char *name = strrchr(line, ' ');

		has = name && !strcmp(name + 1, "dma_pin_lru_pinned\n");
	}
	fclose(f);
	return has;
}

enum pl_kernel pl_kernel(void)
{
	struct utsname u;
	const char *env, *name;
	unsigned int n;

	if (kernel >= 0)
		return kernel;
	if (uname(&u))
		ksft_exit_fail_msg("uname: %s\n", strerror(errno));
	kernel_version = release_version(u.release);
	if (ends_with(u.release, "-pinlab-base"))
		kernel = PL_KERNEL_BASE;
	else if (ends_with(u.release, "-pinlab-patched"))
		kernel = PL_KERNEL_PATCHED;
	else if (sscanf(u.release, "6.1.0-%u-", &n) == 1 && built_by_debian())
		kernel = PL_KERNEL_STOCK;
	else if (sscanf(u.release, "6.12.%u+deb%u-", &n, &n) == 2 && built_by_debian())
		kernel = PL_KERNEL_STOCK612;
	else {
		kernel_user = 1;
		if (pl_kernel_has_series())
			kernel = PL_KERNEL_PATCHED;
		else if (kernel_version >= 0 && kernel_version <= 6004)
			kernel = PL_KERNEL_STOCK;
		else
			kernel = PL_KERNEL_STOCK612;
	}
	name = kernel_user ? user_names[kernel] : kernel_names[kernel];
	/* The harness says which kernel it meant to boot: they must agree. */
	env = getenv("PINLAB_KERNEL");
	if (env && strcmp(env, name))
		ksft_exit_fail_msg("booted %s (%s) but the harness expected %s\n",
				   u.release, name, env);
	return kernel;
}

const char *pl_kernel_name(void)
{
	enum pl_kernel k = pl_kernel();

	return kernel_user ? user_names[k] : kernel_names[k];
}

int pl_kernel_user(void)
{
	pl_kernel();
	return kernel_user;
}

int pl_kernel_debian(void)
{
	enum pl_kernel k = pl_kernel();

	return !kernel_user && (k == PL_KERNEL_STOCK || k == PL_KERNEL_STOCK612);
}

int pl_kernel_ours(void)
{
	enum pl_kernel k = pl_kernel();

	return !kernel_user && (k == PL_KERNEL_BASE || k == PL_KERNEL_PATCHED);
}

int pl_kernel_refuses_longterm_file_write(void)
{
	/* A user kernel by its version: the rule came with 6.5. */
	if (pl_kernel_user())
		return kernel_version >= 6005;
	return pl_kernel() == PL_KERNEL_STOCK612;
}

int pl_ext4_journal_pins_only(void)
{
	/* The same release as the refusal: 6.5. */
	return pl_kernel_refuses_longterm_file_write();
}

int pl_kernel_patched(void)
{
	return pl_kernel() == PL_KERNEL_PATCHED;
}

void pl_fill_stamps(void *buf, size_t len, __u32 tag, __u32 seq)
{
	struct mockdma_stamp *s = buf;
	size_t per_page = pl_page_size / sizeof(*s), i;

	for (i = 0; i < len / sizeof(*s); i++) {
		s[i].magic = MOCKDMA_STAMP_MAGIC;
		s[i].handle = tag;
		s[i].page_index = i / per_page;
		s[i].seq = seq;
	}
}

size_t pl_count_stamped(const void *buf, size_t len, __u32 handle,
			__u32 first_page, __u32 seq)
{
	const struct mockdma_stamp *s = buf;
	size_t per_page = pl_page_size / sizeof(*s), pages = 0, p, i;

	for (p = 0; p < len / pl_page_size; p++) {
		for (i = 0; i < per_page; i++) {
			const struct mockdma_stamp *x = &s[p * per_page + i];

			if (x->magic != MOCKDMA_STAMP_MAGIC || x->handle != handle ||
			    x->page_index != first_page + p || x->seq != seq)
				break;
		}
		pages += i == per_page;
	}
	return pages;
}

/*
 * The file's bytes as the block device has them (pl_disk_read()).  An
 * oracle error ends the program as failed: a verdict that cannot read the
 * disk must not read as "nothing stamped" or "original".
 */
static void *read_disk(struct pl_buf *buf)
{
	void *data = malloc(buf->len);
	int ret;

	if (!data)
		ksft_exit_fail_msg("oracle: out of memory\n");
	ret = pl_disk_read(buf->fd, 0, buf->len, data, NULL);
	if (ret)
		ksft_exit_fail_msg("oracle: disk read of %s: %s\n", buf->path,
				   strerror(-ret));
	return data;
}

size_t pl_disk_stamped(struct pl_buf *buf, __u32 handle, __u32 seq)
{
	void *data = read_disk(buf);
	size_t n = pl_count_stamped(data, buf->len, handle, 0, seq);

	free(data);
	return n;
}

int pl_disk_is_original(struct pl_buf *buf)
{
	unsigned char *data = read_disk(buf);
	size_t off;
	int same = 1;

	for (off = 0; off < buf->len; off++)
		if (data[off] != original_byte(off)) {
			same = 0;
			break;
		}
	free(data);
	return same;
}

static long read_keyed(const char *path, const char *name)
{
	char key[128];
	long val;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%127s %ld", key, &val) == 2)
		if (!strcmp(key, name)) {
			fclose(f);
			return val;
		}
	fclose(f);
	return -1;
}

static __u64 kpageflags_word(int fd, __u64 pfn)
{
	__u64 f;

	return pread(fd, &f, 8, pfn * 8) == 8 ? f : ~0ULL;
}

__u64 pl_pagemap_pfn(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	__u64 ent = 0;
	off_t off = (unsigned long)addr / pl_page_size * 8;

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, 8, off) != 8 || !(ent & (1ULL << 63)))
		ent = 0;
	close(fd);
	/* bits 0-54: pfn, when present (and the reader has CAP_SYS_ADMIN) */
	return ent & ((1ULL << 55) - 1);
}

__u64 pl_kpageflags(__u64 pfn)
{
	/* KPF_COMPOUND_HEAD 15, KPF_COMPOUND_TAIL 16 (kernel-page-flags.h) */
	const __u64 head = 1ULL << 15, tail = 1ULL << 16;
	int fd = open("/proc/kpageflags", O_RDONLY);
	__u64 f = ~0ULL;
	int back;

	if (fd < 0)
		return f;
	f = kpageflags_word(fd, pfn);
	/* A PUD-sized folio is the largest: 2^18 pages back at most. */
	for (back = 0; f != ~0ULL && (f & tail) && pfn && back < (1 << 18);
	     back++) {
		f = kpageflags_word(fd, --pfn);
		if (f & head)
			break;
	}
	close(fd);
	return f;
}

__u64 pl_kpf_with_pseudo(__u64 f)
{
	int lru = f >> PL_KPF_LRU & 1, unev = f >> PL_KPF_UNEVICTABLE & 1;

	f &= ~(1ULL << PL_KPF_ON_LRU_LIST | 1ULL << PL_KPF_PARKED);
	if (lru && !unev)
		f |= 1ULL << PL_KPF_ON_LRU_LIST;
	if (lru && unev && (f >> PL_KPF_DMA_PINNED & 1))
		f |= 1ULL << PL_KPF_PARKED;
	return f;
}

long pl_series_pinned_pages(void)
{
	long park = pl_vmstat("dma_pin_park"), unpark = pl_vmstat("dma_pin_unpark");

	return park < 0 || unpark < 0 ? -1 : park - unpark;
}

int pl_kpf_census(const void *addr, size_t np, size_t counts[64])
{
	size_t i;
	int b, ret;

	memset(counts, 0, 64 * sizeof(counts[0]));
	for (i = 0; i < np; i++) {
		__u64 f;

		ret = pl_page_flags((const char *)addr + i * pl_page_size, &f);
		if (ret)
			return ret;
		f = pl_kpf_with_pseudo(f);
		for (b = 0; b < 64; b++)
			counts[b] += (f >> b) & 1;
	}
	return 0;
}

/*
 * lru_gen is put back as it booted (off on 6.1, on in Debian's 6.12:
 * CONFIG_LRU_GEN_ENABLED), dma_pin_lru back on.
 */
static int lru_gen_boot_on;

static void lru_gen_back(void)
{
	if (pl_write_file(PL_LRU_GEN, lru_gen_boot_on ? "y" : "n"))
		ksft_print_msg("cannot switch %s back %s\n", PL_LRU_GEN,
			       lru_gen_boot_on ? "on" : "off");
}

/* 1 if the multi-gen LRU is on now, 0 off, -errno. */
static int lru_gen_now(void)
{
	char val[32] = "";
	int fd, ret;

	fd = open(PL_LRU_GEN, O_RDONLY);
	if (fd < 0)
		return -errno;
	ret = read(fd, val, sizeof(val) - 1) > 0 ? 0 : -EIO;
	close(fd);
	/* a bitmask of the enabled components, 0x0000 when off */
	return ret ? ret : strtoul(val, NULL, 16) != 0;
}

static void series_back_on(void)
{
	if (pl_write_file(PL_SERIES_SWITCH, "1"))
		ksft_print_msg("cannot switch %s back on\n", PL_SERIES_SWITCH);
}

int pl_series_switch(int on)
{
	static int registered;

	if (!registered++)
		atexit(series_back_on);
	return pl_write_file(PL_SERIES_SWITCH, on ? "1" : "0");
}

int pl_series_live(void)
{
	return !access(PL_SERIES_SWITCH, F_OK) &&
	       !pl_write_file(PL_SERIES_SWITCH, "1");
}

int pl_lru_gen_switch(int on)
{
	static int registered;
	int ret;

	if (!registered++) {
		ret = lru_gen_now();
		if (ret < 0)
			return ret;
		lru_gen_boot_on = ret;
		atexit(lru_gen_back);
	}
	ret = pl_write_file(PL_LRU_GEN, on ? "y" : "n");
	if (ret)
		return ret;
	ret = lru_gen_now();
	if (ret >= 0 && ret != !!on)
		ret = -EIO;
	return ret < 0 ? ret : 0;
}

int pl_lru_drain_all(void)
{
	const char *dir = getenv("PINLAB_EXT4");
	char *map;
	int fd, ret = 0;

	if (!pl_page_size)
		pl_page_size = sysconf(_SC_PAGESIZE);
	/*
	 * lru_add_drain_all() without side effects: POSIX_FADV_DONTNEED
	 * calls it when invalidate_mapping_pagevec() could not drop a folio
	 * (mm/fadvise.c), and a folio mapped by us cannot be dropped (its
	 * refcount is above what mapping_evict_folio() accepts).  Compaction
	 * also drains every CPU, but then migrates pages and puts the copies
	 * into the migrating CPU's batch, off the LRU again.  The file needs
	 * a real backing device: fadvise is a no-op on tmpfs.
	 */
	fd = open(dir ? dir : "/mnt/ext4", O_TMPFILE | O_RDWR, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, pl_page_size)) {
		ret = -errno;
		goto out;
	}
	map = mmap(NULL, pl_page_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	(void)*(volatile char *)map;
	ret = -posix_fadvise(fd, 0, pl_page_size, POSIX_FADV_DONTNEED);
	munmap(map, pl_page_size);
out:
	close(fd);
	return ret;
}

int pl_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

size_t pl_kmsg_count(int kmsg, const char *needle)
{
	char rec[8192];
	size_t n = 0;
	ssize_t len;

	if (kmsg < 0)
		return 0;
	/* One record per read(); EAGAIN at the end, EPIPE if overwritten. */
	while ((len = read(kmsg, rec, sizeof(rec) - 1)) > 0 || errno == EPIPE) {
		if (len <= 0)
			continue;
		rec[len] = 0;
		n += !!strstr(rec, needle);
	}
	return n;
}

int pl_memcg_enter(struct pl_memcg *cg, const char *name, long max_bytes)
{
	char file[300], val[32];
	int ret;

	/* The memory controller must be enabled for the root's children. */
	ret = pl_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	if (ret)
		return ret;
	snprintf(cg->path, sizeof(cg->path), "/sys/fs/cgroup/%s-%d", name,
		 getpid());
	if (mkdir(cg->path, 0755) && errno != EEXIST)
		return -errno;
	snprintf(file, sizeof(file), "%s/memory.max", cg->path);
	snprintf(val, sizeof(val), "%ld", max_bytes);
	ret = pl_write_file(file, val);
	if (!ret) {
		/* No swap in the guest: memory.swap.max does not matter. */
		snprintf(file, sizeof(file), "%s/cgroup.procs", cg->path);
		snprintf(val, sizeof(val), "%d", getpid());
		ret = pl_write_file(file, val);
	}
	if (ret)
		rmdir(cg->path);
	return ret;
}

long pl_memcg_stat(struct pl_memcg *cg, const char *key)
{
	char file[300];

	snprintf(file, sizeof(file), "%s/memory.stat", cg->path);
	return read_keyed(file, key);
}

void pl_memcg_leave(struct pl_memcg *cg)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	pl_write_file("/sys/fs/cgroup/cgroup.procs", pid);
	if (rmdir(cg->path))
		ksft_print_msg("rmdir %s: %s\n", cg->path, strerror(errno));
}

int pl_workload(const char *script, const char *const *argv)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	const char *args[16];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int i, status;
	pid_t pid;

	if (len < 0)
		return -errno;
	exe[len] = 0;
	/* Tests live in userspace/build/, the generators in workloads/. */
	snprintf(path, sizeof(path), "%s/../../workloads/%s", dirname(exe),
		 script);
	args[0] = path;
	for (i = 0; argv[i] && i < 14; i++)
		args[i + 1] = argv[i];
	args[i + 1] = NULL;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		execv(path, (char *const *)args);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
}

extern char **environ;

int pl_run(const char *const *argv, const char *log)
{
	posix_spawn_file_actions_t fa;
	int ret, status;
	pid_t pid;

	fflush(stdout);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	ret = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
			  environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret) {
		ksft_print_msg("spawn %s: %s\n", argv[0], strerror(ret));
		return -ret;
	}
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		char line[256];
		FILE *f = fopen(log, "r");

		ksft_print_msg("%s failed (status %#x):\n", argv[0], status);
		while (f && fgets(line, sizeof(line), f))
			ksft_print_msg("  %s", line);
		if (f)
			fclose(f);
		return -EIO;
	}
	return 0;
}

/*
 * @name is built into the booted kernel: modprobe --show-depends says
 * "builtin <name>" (from modules.builtin).  A built-in module without
 * parameters has no /sys/module/<name> (dm_integrity in a user's tree).
 */
static int module_builtin(const char *modprobe, const char *name)
{
	const char *const argv[] = { modprobe, "--show-depends", name, NULL };
	char log[64], line[256];
	int builtin = 0;
	FILE *f;

	snprintf(log, sizeof(log), "/tmp/pinlab-modprobe-%d.deps", getpid());
	if (!pl_run(argv, log)) {
		f = fopen(log, "r");
		while (f && !builtin && fgets(line, sizeof(line), f))
			builtin = !strncmp(line, "builtin ", strlen("builtin "));
		if (f)
			fclose(f);
	}
	unlink(log);
	return builtin;
}

void pl_need_module(const char *name, const char *present)
{
	const char *const modprobe[] = {
		access("/run/pinlab/modprobe", X_OK) ? "/sbin/modprobe" :
						       "/run/pinlab/modprobe",
		name, NULL,
	};
	char log[64];
	int i, ret;

	if (!access(present, F_OK))
		return;
	/* pinlab-guest.config builds everything in; elsewhere, load it. */
	if (pl_kernel_ours())
		ksft_exit_fail_msg("no %s: this kernel's config lacks %s\n",
				   present, name);
	snprintf(log, sizeof(log), "/tmp/pinlab-modprobe-%d.log", getpid());
	ret = pl_run(modprobe, log);
	unlink(log);
	if (ret)
		ksft_exit_fail_msg("modprobe %s failed\n", name);
	/* devtmpfs and sysfs entries may follow the load by a moment. */
	for (i = 0; i < 100 && access(present, F_OK); i++)
		usleep(20000);
	if (access(present, F_OK) && !module_builtin(modprobe[0], name))
		ksft_exit_fail_msg("modprobe %s: still no %s\n", name, present);
}

const char *pl_image_dir(void)
{
	struct statfs sf;

	return !statfs("/dev/shm", &sf) && sf.f_type == TMPFS_MAGIC ?
	       "/dev/shm" : "/tmp";
}

int pl_loop_attach(const char *image, unsigned long long bytes, char *dev,
		   size_t size, int *loop_fd)
{
	struct loop_config cfg;
	int ctl, ifd, i, n, ret = 0;

	pl_need_module("loop", "/dev/loop-control");
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		ksft_print_msg("/dev/loop-control: %s\n", strerror(errno));
		return -errno;
	}
	ifd = open(image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (ifd < 0 || ftruncate(ifd, bytes)) {
		ret = -errno;
		ksft_print_msg("%s: %s\n", image, strerror(errno));
		goto out;
	}
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (n < 0) {
		ret = -errno;
		ksft_print_msg("LOOP_CTL_GET_FREE: %s\n", strerror(errno));
		goto out;
	}
	snprintf(dev, size, "/dev/loop%d", n);
	for (i = 0; i < 100; i++) {
		*loop_fd = open(dev, O_RDWR | O_CLOEXEC);
		if (*loop_fd >= 0 || errno != ENOENT)
			break;
		usleep(20000);
	}
	if (*loop_fd < 0) {
		ret = -ENODEV;
		ksft_print_msg("%s: %s\n", dev, strerror(errno));
		goto out;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = ifd;
	if (ioctl(*loop_fd, LOOP_CONFIGURE, &cfg)) {
		ret = -errno;
		ksft_print_msg("LOOP_CONFIGURE %s: %s\n", dev, strerror(errno));
		close(*loop_fd);
		*loop_fd = -1;
	}
out:
	if (ifd >= 0)
		close(ifd);
	close(ctl);
	return ret;
}

int pl_loop_detach(const char *dev, int *loop_fd)
{
	int ret = 0;

	if (*loop_fd < 0)
		return 0;
	if (ioctl(*loop_fd, LOOP_CLR_FD, 0)) {
		ret = -errno;
		ksft_print_msg("LOOP_CLR_FD %s: %s\n", dev, strerror(errno));
		return ret;
	}
	close(*loop_fd);
	*loop_fd = -1;
	return 0;
}

long pl_vmstat(const char *name)
{
	/* Per-CPU vmstat deltas are folded only on refresh. */
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			ksft_print_msg("stat_refresh: %s\n", strerror(errno));
		close(fd);
	}
	return read_keyed("/proc/vmstat", name);
}

struct pl_pins pl_pins_now(void)
{
	struct pl_pins c = {
		pl_vmstat("nr_foll_pin_acquired"),
		pl_vmstat("nr_foll_pin_released"),
	};
	return c;
}

long pl_mockdma_stat(const char *name)
{
	return read_keyed("/sys/kernel/debug/mockdma/stats", name);
}

const char *pl_errno_name(int err)
{
	switch (err) {
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ENOMEM: return "ENOMEM";
	case E2BIG: return "E2BIG";
	case ENOSPC: return "ENOSPC";
	case ENOENT: return "ENOENT";
	case EPERM: return "EPERM";
	case ENOTTY: return "ENOTTY";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EBUSY: return "EBUSY";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EINTR: return "EINTR";
	case ESRCH: return "ESRCH";
	default: return strerror(err);
	}
}

int pl_all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

long pl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
