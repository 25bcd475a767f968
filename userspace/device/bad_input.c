// SPDX-License-Identifier: GPL-2.0
/*
 * bad_input: invalid requests to /dev/mockdma each fail with their
 * documented errno (driver/uapi/mockdma.h), and none leaves anything pinned:
 * mockdma's pages_pinned and the kernel's FOLL_PIN counters are unchanged
 * after the whole table.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "lib/pinlab.h"

#define NPAGES 4

static char *rw_buf, *ro_buf, *none_buf, *half_buf;
static size_t pg;
static __u32 good_handle, ro_handle;
static int dev;

enum op {
	OP_PIN, OP_UNPIN, OP_DMA_WRITE, OP_DMA_READ, OP_QUERY, OP_ENGINE,
	OP_ARM, OP_DISARM, OP_RAW
};

struct bad_case {
	const char *name;
	enum op op;
	int want;
	/* pin */
	char **base;
	long off;
	size_t len;		/* in pages unless raw_len */
	size_t raw_len;
	__u32 method, flags, pad, handle;
	/* dma/query */
	__u64 doff, dlen, user_buf, first, n;
	unsigned long cmd;
	int bad_ptr;
	/* engine, injection */
	__u32 interval, point, seq;
};

static int run(const struct bad_case *c)
{
	struct mockdma_page_state st[NPAGES];
	char sink[64];
	__u32 h = c->handle ? c->handle : good_handle;

	if (c->handle == 1000)
		h = 1000;
	if (c->handle == 2)
		h = ro_handle;
	switch (c->op) {
	case OP_PIN: {
		struct mockdma_pin p = {
			.addr = (c->base ? (unsigned long)*c->base : 0) + c->off,
			.length = c->raw_len ? c->raw_len : c->len * pg,
			.method = c->method, .flags = c->flags, .pad = c->pad,
		};
		int ret = pl_ioctl(dev, MOCKDMA_IOC_PIN, &p);

		if (!ret)	/* unexpected success: do not leak it */
			pl_unpin(dev, p.handle, 0);
		return ret;
	}
	case OP_UNPIN: {
		struct mockdma_unpin u = { .handle = h, .flags = c->flags };

		return pl_ioctl(dev, MOCKDMA_IOC_UNPIN, &u);
	}
	case OP_DMA_WRITE:
	case OP_DMA_READ: {
		struct mockdma_dma d = {
			.handle = h, .flags = c->flags, .offset = c->doff,
			.length = c->dlen, .user_buf = c->user_buf, .pad = c->pad,
		};

		if (c->op == OP_DMA_READ && c->user_buf == 1)
			d.user_buf = (unsigned long)sink;
		return pl_ioctl(dev, c->op == OP_DMA_WRITE ?
				MOCKDMA_IOC_DMA_WRITE : MOCKDMA_IOC_DMA_READ, &d);
	}
	case OP_QUERY: {
		struct mockdma_query q = {
			.handle = h, .flags = c->flags, .first_page = c->first,
			.npages = c->n, .pages = (unsigned long)st,
		};

		return pl_ioctl(dev, MOCKDMA_IOC_QUERY, &q);
	}
	case OP_ENGINE: {
		struct mockdma_engine e = {
			.handle = h, .flags = c->flags, .first_page = c->first,
			.npages = c->n, .interval_us = c->interval,
			.pad = c->pad,
		};

		return pl_ioctl(dev, c->cmd, &e);
	}
	case OP_ARM:
	case OP_DISARM: {
		struct mockdma_inject in = {
			.handle = h, .point = c->point, .first_page = c->first,
			.npages = c->n, .offset = c->doff, .length = c->dlen,
			.seq = c->seq, .flags = c->flags,
		};
		int ret = pl_ioctl(dev, c->op == OP_ARM ?
				   MOCKDMA_IOC_INJECT_ARM :
				   MOCKDMA_IOC_INJECT_DISARM, &in);

		if (!ret && c->op == OP_ARM)	/* do not leave it armed */
			pl_inject_disarm(dev, h, c->point, NULL);
		return ret;
	}
	case OP_RAW:
		return pl_ioctl(dev, c->cmd, c->bad_ptr ? (void *)8 : sink);
	}
	return -EINVAL;
}

#define W MOCKDMA_PIN_WRITE
#define LT MOCKDMA_PIN_LONGTERM

static const struct bad_case cases[] = {
	{ "pin zero length", OP_PIN, EINVAL, &rw_buf, 0, 0, .flags = W },
	{ "pin unaligned address", OP_PIN, EINVAL, &rw_buf, 8, 1, .flags = W },
	{ "pin unaligned length", OP_PIN, EINVAL, &rw_buf, 0, 0, 100, .flags = W },
	{ "pin address + length wraps", OP_PIN, EINVAL, NULL, -4096L, 2, .flags = W },
	{ "pin beyond TASK_SIZE", OP_PIN, EINVAL, NULL, 0x800000000000L, 1, .flags = W },
	{ "pin unknown method", OP_PIN, EINVAL, &rw_buf, 0, 1, .method = 17 },
	{ "pin unknown flags", OP_PIN, EINVAL, &rw_buf, 0, 1, .flags = 0x80 },
	{ "pin pad not zero", OP_PIN, EINVAL, &rw_buf, 0, 1, .pad = 1 },
	{ "pin legacy GUP with LONGTERM", OP_PIN, EINVAL, &rw_buf, 0, 1,
	  .method = MOCKDMA_METHOD_GUP, .flags = W | LT },
	{ "pin_unlocked with LONGTERM", OP_PIN, EINVAL, &rw_buf, 0, 1,
	  .method = MOCKDMA_METHOD_PIN_UNLOCKED, .flags = W | LT },
	{ "pin unmapped range", OP_PIN, EFAULT, NULL, 0x10000, 1, .flags = W | LT },
	{ "pin PROT_NONE range", OP_PIN, EFAULT, &none_buf, 0, 1, .flags = W | LT },
	{ "pin read-only mapping for write", OP_PIN, EFAULT, &ro_buf, 0, 1,
	  .flags = W | LT },
	{ "pin range whose second half is unmapped", OP_PIN, EFAULT, &half_buf,
	  0, NPAGES, .flags = W | LT },
	/* 2 GiB at 4 GiB: inside TASK_SIZE, above max_pin_pages (1 GiB) */
	{ "pin above max_pin_pages", OP_PIN, E2BIG, NULL, 1L << 32, 0,
	  (size_t)1 << 31, .flags = W },
	{ "unpin unknown handle", OP_UNPIN, ENOENT, .handle = 1000 },
	{ "unpin unknown flags", OP_UNPIN, EINVAL, .flags = 0x40 },
	{ "dma write unknown handle", OP_DMA_WRITE, ENOENT, .handle = 1000, .dlen = 16 },
	{ "dma write beyond the pinned range", OP_DMA_WRITE, EINVAL, .doff = 0,
	  .dlen = (NPAGES + 1) * 4096 },
	{ "dma write unaligned offset", OP_DMA_WRITE, EINVAL, .doff = 8, .dlen = 16 },
	{ "dma write zero length", OP_DMA_WRITE, EINVAL, .dlen = 0 },
	{ "dma write with user_buf set", OP_DMA_WRITE, EINVAL, .dlen = 16,
	  .user_buf = 4096 },
	{ "dma write unknown flags", OP_DMA_WRITE, EINVAL, .dlen = 16, .flags = 0x10 },
	{ "dma write pad not zero", OP_DMA_WRITE, EINVAL, .dlen = 16, .pad = 1 },
	{ "dma write into a read-only pin", OP_DMA_WRITE, EPERM, .handle = 2,
	  .dlen = 16 },
	{ "dma read with flags", OP_DMA_READ, EINVAL, .dlen = 16, .flags = 1,
	  .user_buf = 1 },
	{ "dma read to a bad buffer", OP_DMA_READ, EFAULT, .dlen = 16, .user_buf = 8 },
	{ "query first_page beyond the range", OP_QUERY, EINVAL, .first = NPAGES,
	  .n = 1 },
	{ "query zero entries", OP_QUERY, EINVAL, .n = 0 },
	{ "query unknown flags", OP_QUERY, EINVAL, .flags = 1, .n = 1 },
	{ "query unknown handle", OP_QUERY, ENOENT, .handle = 1000, .n = 1 },
	{ "engine start unknown flags", OP_ENGINE, EINVAL, .flags = 0x10,
	  .cmd = MOCKDMA_IOC_ENGINE_START },
	{ "engine start pad not zero", OP_ENGINE, EINVAL, .pad = 1,
	  .cmd = MOCKDMA_IOC_ENGINE_START },
	{ "engine start interval above 1 s", OP_ENGINE, EINVAL,
	  .interval = 1000001, .cmd = MOCKDMA_IOC_ENGINE_START },
	{ "engine start first_page beyond the range", OP_ENGINE, EINVAL,
	  .first = NPAGES, .cmd = MOCKDMA_IOC_ENGINE_START },
	{ "engine start page set beyond the range", OP_ENGINE, EINVAL,
	  .first = 1, .n = NPAGES, .cmd = MOCKDMA_IOC_ENGINE_START },
	{ "engine start on a read-only pin", OP_ENGINE, EPERM, .handle = 2,
	  .cmd = MOCKDMA_IOC_ENGINE_START },
	{ "engine start unknown handle", OP_ENGINE, ENOENT, .handle = 1000,
	  .cmd = MOCKDMA_IOC_ENGINE_START },
	{ "engine stop with flags", OP_ENGINE, EINVAL, .flags = 1,
	  .cmd = MOCKDMA_IOC_ENGINE_STOP },
	{ "engine status unknown handle", OP_ENGINE, ENOENT, .handle = 1000,
	  .cmd = MOCKDMA_IOC_ENGINE_STATUS },
	{ "inject arm unknown point", OP_ARM, EINVAL, .point = MOCKDMA_INJECT_COUNT, .dlen = 16 },
	{ "inject arm unknown flags", OP_ARM, EINVAL, .flags = 1, .dlen = 16 },
	{ "inject arm zero length", OP_ARM, EINVAL, .dlen = 0 },
	{ "inject arm unaligned offset", OP_ARM, EINVAL, .doff = 8, .dlen = 16 },
	{ "inject arm past the end of the page", OP_ARM, EINVAL, .doff = 4080,
	  .dlen = 32 },
	{ "inject arm first_page beyond the range", OP_ARM, EINVAL,
	  .first = NPAGES, .dlen = 16 },
	{ "inject arm pages beyond the range", OP_ARM, EINVAL, .first = 1,
	  .n = NPAGES, .dlen = 16 },
	{ "inject arm a sequence number not yet used", OP_ARM, EINVAL,
	  .seq = 1000000, .dlen = 16 },
	{ "inject arm on a read-only pin", OP_ARM, EPERM, .handle = 2, .dlen = 16 },
	{ "inject arm unknown handle", OP_ARM, ENOENT, .handle = 1000, .dlen = 16 },
	{ "inject disarm with a page range", OP_DISARM, EINVAL, .n = 1 },
	{ "inject disarm unknown point", OP_DISARM, EINVAL, .point = 9 },
	{ "unknown ioctl number", OP_RAW, ENOTTY,
	  .cmd = _IOWR(MOCKDMA_IOC_MAGIC, 0x7f, struct mockdma_unpin) },
	{ "pin with a bad argument pointer", OP_RAW, EFAULT,
	  .cmd = MOCKDMA_IOC_PIN, .bad_ptr = 1 },
};

static char *map(int prot, size_t pages)
{
	char *p = mmap(NULL, pages * pg, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	return p;
}

int main(void)
{
	long pinned0, acq0, rel0;
	size_t i;

	dev = pl_open_or_skip();
	pg = pl_page_size;
	ksft_set_plan(ARRAY_SIZE(cases) + 1);

	rw_buf = map(PROT_READ | PROT_WRITE, NPAGES);
	memset(rw_buf, 1, NPAGES * pg);
	ro_buf = map(PROT_READ, NPAGES);
	none_buf = map(PROT_NONE, NPAGES);
	half_buf = map(PROT_READ | PROT_WRITE, NPAGES);
	munmap(half_buf + NPAGES / 2 * pg, NPAGES / 2 * pg);

	if (pl_pin(dev, rw_buf, NPAGES * pg, MOCKDMA_METHOD_PIN_FAST, W | LT,
		   &good_handle) ||
	    pl_pin(dev, rw_buf, pg, MOCKDMA_METHOD_PIN_FAST, LT, &ro_handle))
		ksft_exit_fail_msg("setup pins failed\n");
	pinned0 = pl_mockdma_stat("pages_pinned");
	acq0 = pl_vmstat("nr_foll_pin_acquired");
	rel0 = pl_vmstat("nr_foll_pin_released");

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret = run(&cases[i]);

		if (ret != -cases[i].want)
			ksft_print_msg("%s: got %s\n", cases[i].name,
				       ret ? pl_errno_name(-ret) : "success");
		ksft_test_result(ret == -cases[i].want, "%s -> %s\n",
				 cases[i].name, pl_errno_name(cases[i].want));
	}

	/* Failed pins must not have left pages pinned or counted. */
	ksft_test_result(pl_mockdma_stat("pages_pinned") == pinned0 &&
			 pl_mockdma_stat("inject_armed") == 0 &&
			 pl_mockdma_stat("engines_running") == 0 &&
			 pl_vmstat("nr_foll_pin_acquired") - acq0 ==
			 pl_vmstat("nr_foll_pin_released") - rel0,
			 "no pin, armed page or engine left by the failed requests\n");
	pl_unpin(dev, good_handle, 0);
	pl_unpin(dev, ro_handle, 0);
	close(dev);
	ksft_finished();
}
