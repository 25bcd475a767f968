// SPDX-License-Identifier: GPL-2.0
/*
 * mockdma: /sys/kernel/debug/mockdma/, counters for the tests (never ABI).
 *
 *   stats  one "name value" line per global counter; the harness checks
 *          pages_pinned is 0 after every test program
 *   fds    one "pid <tgid> handles <n> pages <n>" line per open fd
 *   inject_fail_register
 *          fault injection: the next kprobe registration fails inside
 *          register_kprobe() (a blacklisted symbol, mockdma_inject.c), to
 *          test the retry
 *   mutate_skip_write
 *          fault injection for the mutation run (make mutate): 1 makes
 *          every device write a no-op
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "mockdma_internal.h"

static struct dentry *mockdma_debugfs_dir;

static int mockdma_dbg_stats_show(struct seq_file *m, void *unused)
{
	static const char * const point_names[MOCKDMA_INJECT_COUNT] = {
		[MOCKDMA_INJECT_WB_START] = "wb_start",
		[MOCKDMA_INJECT_WB_END] = "wb_end",
		[MOCKDMA_INJECT_RECLAIM] = "reclaim",
		[MOCKDMA_INJECT_SHRINKER] = "shrinker",
		[MOCKDMA_INJECT_BIO_SUBMIT] = "bio_submit",
	};
	const struct mockdma_stats *s = &mockdma_stats;
	int i;

	seq_printf(m, "pages_pinned %lld\n", atomic64_read(&s->pages_pinned));
	seq_printf(m, "handles %lld\n", atomic64_read(&s->handles));
	seq_printf(m, "pins_total %lld\n", atomic64_read(&s->pins_total));
	seq_printf(m, "unpins_total %lld\n", atomic64_read(&s->unpins_total));
	seq_printf(m, "pin_errors_total %lld\n",
		   atomic64_read(&s->pin_errors_total));
	seq_printf(m, "dma_write_bytes %lld\n",
		   atomic64_read(&s->dma_write_bytes));
	seq_printf(m, "dma_read_bytes %lld\n",
		   atomic64_read(&s->dma_read_bytes));
	seq_printf(m, "dma_writes_total %lld\n",
		   atomic64_read(&s->dma_writes_total));
	seq_printf(m, "engines_running %lld\n",
		   atomic64_read(&s->engines_running));
	seq_printf(m, "engine_passes_total %lld\n",
		   atomic64_read(&s->engine_passes_total));
	seq_printf(m, "inject_armed %lld\n", atomic64_read(&s->inject_armed));
	seq_printf(m, "inject_probes_live %u\n", mockdma_inject_probes_live());
	seq_printf(m, "inject_probes_missed %lu\n",
		   mockdma_inject_probes_missed());
	seq_printf(m, "inject_arms_total %lld\n",
		   atomic64_read(&s->inject_arms_total));
	seq_printf(m, "inject_fired_total %lld\n",
		   atomic64_read(&s->inject_fired_total));
	for (i = 0; i < MOCKDMA_INJECT_COUNT; i++)
		seq_printf(m, "inject_fired_%s %lld\n", point_names[i],
			   atomic64_read(&s->inject_fired[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mockdma_dbg_stats);

static int mockdma_dbg_fds_show(struct seq_file *m, void *unused)
{
	struct mockdma_file *mf;

	/*
	 * The counts are read without the fd's own lock, so that a reader
	 * never waits behind an ioctl and no lock nests in another.
	 */
	mutex_lock(&mockdma_files_lock);
	list_for_each_entry(mf, &mockdma_files, node)
		seq_printf(m, "pid %d handles %lu pages %lu\n", mf->tgid,
			   READ_ONCE(mf->nhandles), READ_ONCE(mf->npages));
	mutex_unlock(&mockdma_files_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mockdma_dbg_fds);

/* debugfs failures are not fatal: the device works without the counters. */
void mockdma_debugfs_init(void)
{
	mockdma_debugfs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("stats", 0400, mockdma_debugfs_dir, NULL,
			    &mockdma_dbg_stats_fops);
	debugfs_create_file("fds", 0400, mockdma_debugfs_dir, NULL,
			    &mockdma_dbg_fds_fops);
	debugfs_create_bool("mutate_skip_write", 0600, mockdma_debugfs_dir,
			    &mockdma_mutate_skip_write);
	debugfs_create_bool("inject_fail_register", 0600, mockdma_debugfs_dir,
			    &mockdma_inject_fail_register);
}

void mockdma_debugfs_exit(void)
{
	debugfs_remove_recursive(mockdma_debugfs_dir);
}
