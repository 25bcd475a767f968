// SPDX-License-Identifier: GPL-2.0
/*
 * hazard_stable_pages (H5): a device writes into a long-term pinned
 * page-cache page while the page is under writeback, beneath a layer that
 * checksums the data.  The objection (stable-page users: checksums, RAID,
 * T10-PI): the page cache keeps a page stable during writeback only
 * against the CPU (folio_wait_stable() in ->page_mkwrite and write(2));
 * a DMA writer is not stopped, so the bytes the checksum was computed
 * from are not the bytes the disk gets, and every later read of the block
 * fails its integrity check.
 *
 * Layers, each made inside the guest on a loop device over a sparse image
 * in tmpfs (pl_loop_attach()); umount, close and detach on every exit:
 *
 *   btrfs              mkfs.btrfs (data checksums crc32c, on by default;
 *                      one device, no compression)
 *   ext4-dm-integrity  ext4 on dm-integrity on dm-linear ("lower")
 *   xfs-dm-integrity   xfs on dm-integrity on dm-linear
 *
 * dm-integrity is formatted with 4 KiB sectors (one crc32c tag per page;
 * integritysetup format wipes the device, so every tag is valid) and
 * opened with --integrity-no-journal: mode 'D', the data bio goes to the
 * device from the page itself.  In the default journal mode ('J'),
 * dm-integrity copies the data into its journal and computes the tag
 * from that copy (do_journal_write() later writes the copy home): the page
 * is read once, there is no window between the checksum and the disk,
 * and no bio carrying the page ever reaches the loop device.
 *
 * Per case, 16 pages of a MAP_SHARED file pinned long-term for write
 * (the verdict does not depend on the pin kind: no kernel here looks at
 * pins in writeback).  The pin's write fault dirtied the pages through
 * ->page_mkwrite, as an application's store would (btrfs needs that: a
 * page dirtied behind its back, as MOCKDMA_DMA_SET_DIRTY or a dirtying
 * unpin does, goes to its writepage fix-up worker and is written at some
 * later writeback, not this one); the CPU then stores generation A (the
 * stamps' format, seq A_SEQ) into every page, and every page must be
 * dirty.  The device writes generation B over every whole page at the
 * case's moment of the fsync's writeback (below); the fsync's return is a
 * verdict; then the mapping must hold B and every page be clean (no
 * PG_dirty, no PG_writeback).  Then the disk while still pinned, page by
 * page:
 *   dm-integrity: pl_disk_read(), O_DIRECT through the dm device, which
 *     checks each block's tag (a mismatch: EILSEQ, BLK_STS_PROTECTION);
 *   btrfs: pl_disk_read() refuses btrfs (its FIEMAP gives logical
 *     addresses), so an O_DIRECT read(2) of the file: with nothing dirty
 *     or under writeback (just checked), __iomap_dio_rw()'s
 *     filemap_write_and_wait_range() writes nothing, and btrfs checks
 *     the data checksums of what it reads (EIO on a mismatch).
 * Then a clean unpin (nothing rewrites the pages: what the window left on
 * disk stays, as it would across a crash before a dirtying unpin), fsync
 * again, the mapping dropped, the clean page cache evicted (nothing is
 * written back) and each page read with read(2)
 * (pl_drop_cache_census_pages()): its bytes, or EIO.  The layer's own
 * checksum failure counter (btrfs corruption_errs, dm-integrity
 * mismatches; the kernel log's messages are rate limited) must move
 * exactly when EIO is expected.
 *
 * When the device writes B:
 *   wb-start    mockdma's WB_START injection, __folio_start_writeback():
 *               before the bio is built.  btrfs computes data checksums
 *               when the bio is submitted (btrfs_submit_data_write_bio()
 *               -> btrfs_csum_one_bio(), inline for fsync, or from the
 *               async-csum worker), dm-integrity after it maps the bio
 *               (integrity_metadata()), both later: sums and data agree.
 *   bio-submit  (btrfs) the BIO_SUBMIT injection, blk_mq_submit_bio() of
 *               the loop device: the bottom of the stack, before the loop
 *               worker copies the data.  btrfs computed its sums, from A,
 *               before btrfs_submit_bio() passed the bio down: the disk
 *               gets B under A's checksums.  Not used on dm-integrity:
 *               dm_integrity_map_continue() submits the data bio and then
 *               queues integrity_metadata() on the metadata workqueue of
 *               its CPU, so whether the tag is computed before the bio
 *               reaches the loop device depends on a preemption point in
 *               between (measured on stock: with the dm-linear below, the
 *               clone's allocation is one and the tags were A's, 16/16
 *               EIO; with dm-integrity right on the loop device, the tags
 *               were B's, OK): a scheduling race, not a verdict.
 *   held        (dm-integrity) the window itself, with the data held
 *               below dm-integrity: the lower dm-linear device is
 *               suspended (DM_DEV_SUSPEND, noflush: bios are queued in
 *               dm, not failed), fsync runs in a child; once the child
 *               sleeps (D) with all 16 pages under writeback, and
 *               HOLD_MARGIN_MS more, the device writes B (DMA_WRITE, not
 *               dirtying), and the lower device is resumed.  dm-integrity
 *               computed the tags from A in integrity_metadata(), which
 *               runs on the child's CPU as soon as the child sleeps, if
 *               not before; the loop device copies the data only after
 *               the resume: B's bytes under A's tags.  A held lower device
 *               is what a slow disk or a multipath failover makes.  The
 *               margin is the one timing assumption: had the worker not
 *               run in it, the tags would be B's and the case would read
 *               OK, failing the verdict (it cannot pass by chance).
 *
 * Expected, stock and base:
 *   wb-start, every layer: OK: every page reads back B while pinned and
 *     after eviction, no checksum failure counted, both fsyncs return 0.
 *   bio-submit (btrfs) and held (dm-integrity): EIO: all 16 pages fail
 *     their checksum while pinned (btrfs EIO, the dm device EILSEQ) and
 *     after eviction (EIO from read(2)), the counter moves, and both
 *     fsyncs returned 0: the writer is told nothing, every later reader
 *     gets EIO.
 * ci/mutations: skip-device-write (B never lands: the disk holds A under
 * A's sums, and the mapping check fails) and skip-fsync (no writeback:
 * nothing fires, the held fsync never blocks) turn every case red.
 * Patched: the outcomes of base (expect_eio() does not look at the
 * kernel).  The v2 series does not touch writeback (it moves long-term
 * pinned folios to the unevictable LRU; its only fs change refuses
 * reflink of pinned ranges), so nothing here can differ; v1's patch 6,
 * which re-dirtied a write-pinned folio when its writeback ended, would
 * have made the second fsync rewrite the pages with fresh checksums.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/btrfs.h>
#include <linux/dm-ioctl.h>
#include <linux/magic.h>

#include "lib/pinlab.h"

#define NP		16
#define INTEGRITYSETUP	"/sbin/integritysetup"
#define DMSETUP		"/sbin/dmsetup"
#define HOLD_MARGIN_MS	200	/* held: the metadata worker runs meanwhile */
#define HOLD_WAIT_MS	5000	/* held: the fsync must block by then */

enum layer { BTRFS, EXT4_DMI, XFS_DMI, NR_LAYERS };

static const struct layer_def {
	const char *name, *fstype;
	const char *const mkfs[12];
	unsigned long long image_bytes;
	int integrity;		/* under dm-integrity */
	const char *csum_msg;	/* the kernel log's checksum failure */
	unsigned long magic;	/* statfs f_type of the mounted fs */
} layers[NR_LAYERS] = {
	[BTRFS] = {
		"btrfs", "btrfs",
		{ "/sbin/mkfs.btrfs", "-q", "-f", "-K", NULL },
		320ULL << 20, 0, "csum failed", BTRFS_SUPER_MAGIC,
	},
	[EXT4_DMI] = {
		"ext4-dm-integrity", "ext4",
		{ "/sbin/mkfs.ext4", "-q", "-F", "-b", "4096", "-E",
		  "lazy_itable_init=0,lazy_journal_init=0,nodiscard", NULL },
		160ULL << 20, 1, "Checksum failed", EXT4_SUPER_MAGIC,
	},
	[XFS_DMI] = {
		/* mkfs.xfs of Debian 12 wants at least 300 MiB */
		"xfs-dm-integrity", "xfs",
		{ "/sbin/mkfs.xfs", "-q", "-f", "-K", NULL },
		352ULL << 20, 1, "Checksum failed", XFS_SUPER_MAGIC,
	},
};

/* Where the device's write B lands; HELD: see the header comment. */
enum point { AT_WB_START, AT_BIO_SUBMIT, HELD, NR_POINTS };
static const struct point_def {
	const char *name;
	__u32 point;		/* the injection point (not HELD) */
} points[NR_POINTS] = {
	[AT_WB_START] = { "wb-start", MOCKDMA_INJECT_WB_START },
	[AT_BIO_SUBMIT] = { "bio-submit", MOCKDMA_INJECT_BIO_SUBMIT },
	[HELD] = { "held", 0 },
};

/* What the program made for the layer in use, undone by teardown(). */
static struct layer_state {
	char image[128], loop[32], dir[128];
	char lower[64], lowerdev[96];	/* dm-linear over the loop device */
	char dm[64], dmdev[96];		/* dm-integrity over lower */
	const char *fsdev;	/* what the fs is on: loop or dm-integrity */
	int loop_fd, created, opened, mounted;
	volatile sig_atomic_t suspended;
} st = { .loop_fd = -1 };

/*
 * DM_DEV_SUSPEND of the lower device: suspend it (--noflush, no fs
 * freeze: new bios are held in dm until the resume) or resume it.  A raw
 * ioctl, so that the signal handler can resume too.  0 or -errno.
 */
static int lower_suspend(int suspend)
{
	int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC), ret = 0;
	struct dm_ioctl dmi;

	if (fd < 0)
		return -errno;
	memset(&dmi, 0, sizeof(dmi));
	dmi.version[0] = DM_VERSION_MAJOR;
	dmi.data_size = sizeof(dmi);
	dmi.data_start = sizeof(dmi);
	dmi.flags = suspend ? DM_SUSPEND_FLAG | DM_NOFLUSH_FLAG |
			      DM_SKIP_LOCKFS_FLAG : 0;
	memcpy(dmi.name, st.lower, sizeof(st.lower));
	if (ioctl(fd, DM_DEV_SUSPEND, &dmi))
		ret = -errno;
	close(fd);
	if (!ret)
		st.suspended = suspend;
	return ret;
}

/* The harness's timeout (SIGTERM) must not leave I/O held. */
static void on_signal(int sig)
{
	if (st.suspended)
		lower_suspend(0);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void log_path(char *log, size_t size, const char *what)
{
	snprintf(log, size, "/tmp/pinlab-h5-%d-%s.log", getpid(), what);
}

/* @tool (integritysetup, dmsetup) with @args; 0 if it exited 0. */
static int tool(const char *tool, const char *const *args, const char *what)
{
	const char *argv[12] = { tool };
	char log[64];
	int i, ret;

	for (i = 0; args[i] && i < 10; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	log_path(log, sizeof(log), what);
	ret = pl_run(argv, log);
	unlink(log);
	return ret;
}

static void teardown(void)
{
	if (st.suspended && lower_suspend(0))
		ksft_print_msg("cannot resume %s\n", st.lower);
	pl_disk_close();
	if (st.mounted && umount(st.dir))
		ksft_print_msg("umount %s: %s\n", st.dir, strerror(errno));
	else
		st.mounted = 0;
	if (st.dir[0] && !st.mounted && !rmdir(st.dir))
		st.dir[0] = 0;
	if (st.opened && !st.mounted) {
		const char *const args[] = { "close", st.dm, NULL };

		if (!tool(INTEGRITYSETUP, args, "close"))
			st.opened = 0;
	}
	if (st.created && !st.opened) {
		const char *const args[] = {
			"remove", "--noudevsync", st.lower, NULL,
		};

		if (!tool(DMSETUP, args, "remove"))
			st.created = 0;
	}
	if (!st.created && !st.mounted)
		pl_loop_detach(st.loop, &st.loop_fd);
	if (st.image[0] && st.loop_fd < 0 && !unlink(st.image))
		st.image[0] = 0;
}

/*
 * The dm-integrity device's table is mode 'D' with 4 KiB sectors:
 * "<start> <len> integrity <dev> <offset> <tag size> D <n> ...
 * block_size:4096 ...".
 */
static int integrity_table_ok(void)
{
	const char *argv[] = { DMSETUP, "table", st.dm, NULL };
	char log[64], line[512] = "";
	int ok = 0, ret;
	FILE *f;

	log_path(log, sizeof(log), "table");
	ret = pl_run(argv, log);
	f = fopen(log, "r");
	if (!ret && f && fgets(line, sizeof(line), f))
		ok = strstr(line, " integrity ") && strstr(line, " D ") &&
		     strstr(line, "block_size:4096");
	if (f)
		fclose(f);
	unlink(log);
	line[strcspn(line, "\n")] = 0;
	ksft_print_msg("[INFO] dm table: %s\n", line);
	return ok;
}

/* Image, loop, (dm-integrity), mkfs, mount: 0 or -errno, with a diagnostic. */
static int layer_setup(enum layer l)
{
	const struct layer_def *d = &layers[l];
	const char *argv[16];
	char log[64];
	int i, ret;

	memset(&st, 0, sizeof(st));
	st.loop_fd = -1;
	snprintf(st.image, sizeof(st.image), "%s/pinlab-h5-%d-%s.img",
		 pl_image_dir(), getpid(), d->name);
	ret = pl_loop_attach(st.image, d->image_bytes, st.loop,
			     sizeof(st.loop), &st.loop_fd);
	if (ret)
		return ret;
	st.fsdev = st.loop;
	if (d->integrity) {
		char table[128];
		/*
		 * No udev in the guest: dmsetup makes no /dev/mapper node of
		 * its own accord (integritysetup does); mknodes makes it.
		 */
		const char *const create[] = {
			"create", "--noudevsync", st.lower, "--table", table,
			NULL,
		};
		const char *const mknodes[] = { "mknodes", st.lower, NULL };
		const char *const format[] = {
			"format", "--batch-mode", "--sector-size", "4096",
			"--integrity", "crc32c", st.lowerdev, NULL,
		};
		const char *const open[] = {
			"open", "--integrity-no-journal", st.lowerdev, st.dm,
			NULL,
		};
		long t0 = pl_now_ms();

		snprintf(st.lower, sizeof(st.lower), "pinlab-h5-%d-lower",
			 getpid());
		snprintf(st.lowerdev, sizeof(st.lowerdev), "/dev/mapper/%s",
			 st.lower);
		snprintf(st.dm, sizeof(st.dm), "pinlab-h5-%d", getpid());
		snprintf(table, sizeof(table), "0 %llu linear %s 0",
			 d->image_bytes >> 9, st.loop);
		ret = tool(DMSETUP, create, "create");
		if (ret)
			return ret;
		st.created = 1;
		ret = tool(DMSETUP, mknodes, "mknodes");
		if (!ret && access(st.lowerdev, F_OK)) {
			ksft_print_msg("no %s after dmsetup mknodes\n", st.lowerdev);
			ret = -ENODEV;
		}
		if (ret)
			return ret;
		ret = tool(INTEGRITYSETUP, format, "format");
		if (!ret)
			ret = tool(INTEGRITYSETUP, open, "open");
		if (ret)
			return ret;
		st.opened = 1;
		snprintf(st.dmdev, sizeof(st.dmdev), "/dev/mapper/%s", st.dm);
		st.fsdev = st.dmdev;
		ksft_print_msg("[INFO] %s: dm-integrity formatted and opened in %ld ms\n",
			       d->name, pl_now_ms() - t0);
	}
	for (i = 0; d->mkfs[i]; i++)
		argv[i] = d->mkfs[i];
	argv[i++] = st.fsdev;
	argv[i] = NULL;
	log_path(log, sizeof(log), "mkfs");
	ret = pl_run(argv, log);
	unlink(log);
	if (ret)
		return ret;
	snprintf(st.dir, sizeof(st.dir), "/mnt/pinlab-h5-%s-XXXXXX", d->name);
	if (!mkdtemp(st.dir)) {
		ksft_print_msg("mkdtemp: %s\n", strerror(errno));
		st.dir[0] = 0;
		return -errno;
	}
	if (mount(st.fsdev, st.dir, d->fstype, 0, NULL)) {
		ksft_print_msg("mount %s %s: %s\n", st.fsdev, st.dir,
			       strerror(errno));
		return -errno;
	}
	st.mounted = 1;
	return 0;
}

/* Mounted as asked: the file system type, and dm-integrity's mode. */
static int layout_ok(enum layer l)
{
	struct statfs sf;

	if (statfs(st.dir, &sf))
		return 0;
	ksft_print_msg("[INFO] %s: %s on %s (f_type %#lx, block size %ld)\n",
		       layers[l].name, st.fsdev, st.dir,
		       (unsigned long)sf.f_type, (long)sf.f_bsize);
	return (unsigned long)sf.f_type == layers[l].magic &&
	       sf.f_bsize == 4096 && (!layers[l].integrity || integrity_table_ok());
}

/*
 * The block device's view while pinned (dm-integrity only): each page read
 * by pl_disk_read() alone, so that one failing tag fails one page.  The
 * dm device fails a mismatching block with BLK_STS_PROTECTION, which an
 * O_DIRECT read returns as EILSEQ; counted in c->eio, as an EIO from the
 * file system is.
 */
static int disk_census_pages(struct pl_buf *buf, __u32 h, __u32 seq,
			     struct pl_census *c, int *err)
{
	char *page = malloc(pl_page_size);
	size_t p;
	int ret;

	memset(c, 0, sizeof(*c));
	*err = 0;
	if (!page)
		return -ENOMEM;
	for (p = 0; p < NP; p++) {
		ret = pl_disk_read(buf->fd, p * pl_page_size, pl_page_size,
				   page, NULL);
		if (ret == -EILSEQ || ret == -EIO) {
			c->eio++;
			*err = -ret;
		} else if (ret) {
			free(page);
			return ret;
		} else {
			pl_census_page(page, p, h, seq, c);
		}
	}
	free(page);
	return 0;
}

/*
 * btrfs while pinned: an O_DIRECT read(2) of the file, page by page.  The
 * caller has checked that no page is dirty or under writeback, so the
 * read writes nothing back first; btrfs checks each block's data
 * checksum (EIO on a mismatch, counted in c->eio).
 */
static int direct_census_pages(struct pl_buf *buf, __u32 h, __u32 seq,
			       struct pl_census *c, int *err)
{
	int dfd = open(buf->path, O_RDONLY | O_DIRECT | O_CLOEXEC), ret = 0;
	void *page = NULL;
	size_t p;

	memset(c, 0, sizeof(*c));
	*err = 0;
	if (dfd < 0 || posix_memalign(&page, pl_page_size, pl_page_size)) {
		ksft_print_msg("O_DIRECT %s: %s\n", buf->path, strerror(errno));
		ret = -errno;
		goto out;
	}
	for (p = 0; p < NP && !ret; p++) {
		ssize_t got = pread(dfd, page, pl_page_size, p * pl_page_size);

		if (got < 0 && errno == EIO) {
			c->eio++;
			*err = EIO;
		} else if (got == (ssize_t)pl_page_size) {
			pl_census_page(page, p, h, seq, c);
		} else {
			ksft_print_msg("O_DIRECT read of page %zu: %s\n", p,
				       got < 0 ? strerror(errno) : "short");
			ret = got < 0 ? -errno : -EIO;
		}
	}
out:
	free(page);
	if (dfd >= 0)
		close(dfd);
	return ret;
}

/*
 * The layer's own count of checksum failures, which the kernel log's
 * rate-limited messages are not: btrfs's corruption_errs of its one
 * device (BTRFS_IOC_GET_DEV_STATS), dm-integrity's number of mismatches
 * (the first field of its status line).  -1 if unreadable.
 */
static long long corrupt_count(enum layer l)
{
	long long n = -1;

	if (!layers[l].integrity) {
		struct btrfs_ioctl_get_dev_stats ds = {
			.devid = 1, .nr_items = BTRFS_DEV_STAT_VALUES_MAX,
		};
		int fd = open(st.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd >= 0 && !ioctl(fd, BTRFS_IOC_GET_DEV_STATS, &ds) &&
		    ds.nr_items > BTRFS_DEV_STAT_CORRUPTION_ERRS)
			n = ds.values[BTRFS_DEV_STAT_CORRUPTION_ERRS];
		if (fd >= 0)
			close(fd);
	} else {
		/* "0 <sectors> integrity <mismatches> <provided> <recalc>" */
		const char *argv[] = { DMSETUP, "status", st.dm, NULL };
		char log[64], line[256] = "";
		FILE *f;

		log_path(log, sizeof(log), "status");
		if (!pl_run(argv, log) && (f = fopen(log, "r"))) {
			if (!fgets(line, sizeof(line), f) ||
			    sscanf(line, "%*u %*u integrity %lld", &n) != 1)
				n = -1;
			fclose(f);
		}
		unlink(log);
	}
	if (n < 0)
		ksft_print_msg("%s: checksum failure counter unreadable\n",
			       layers[l].name);
	return n;
}

/* Pages whose folio has PG_dirty, and PG_writeback, now; 0 or -errno. */
static int page_state(struct pl_buf *buf, size_t *dirty, size_t *wb)
{
	size_t counts[64];
	int ret = pl_kpf_census(buf->addr, NP, counts);

	*dirty = counts[PL_KPF_DIRTY];
	*wb = counts[PL_KPF_WRITEBACK];
	return ret;
}

/*
 * The cases: WB_START everywhere; BIO_SUBMIT on btrfs, HELD on
 * dm-integrity (see the header comment for why not BIO_SUBMIT there).
 */
static int applies(enum layer l, enum point pt)
{
	return pt == AT_WB_START ||
	       (pt == AT_BIO_SUBMIT && !layers[l].integrity) ||
	       (pt == HELD && layers[l].integrity);
}

/*
 * B's bytes on disk under the checksum of A: see the header comment.
 * Every kernel alike: patched is base's (v2 does not touch writeback).
 */
static int expect_eio(enum point pt)
{
	return pt != AT_WB_START;
}

/* The state letter of /proc/@pid/stat ('R', 'S', 'D', ...); 0 if unreadable. */
static char task_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * HELD: with the lower device suspended, fsync in a child; once the child
 * sleeps in D state with all NP pages under writeback (the data bios are
 * held below dm-integrity) and HOLD_MARGIN_MS more have passed (the
 * metadata worker queued on the child's CPU runs as soon as the child
 * sleeps), the device writes B; then the resume lets the held bios reach
 * the loop device.  The fsync's return into *@fsync_ret; 1 if the window
 * was reached and the device wrote.
 */
static int held_write(int mfd, struct pl_buf *buf, __u32 h, __u32 *seq,
		      int *fsync_ret, size_t *wb_held)
{
	long end = pl_now_ms() + HOLD_WAIT_MS;
	int ok = 0, status;
	size_t dirty = 0;
	char state = 0;
	pid_t pid;

	if (lower_suspend(1)) {
		ksft_print_msg("suspend %s: %s\n", st.lower, strerror(errno));
		return 0;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid)
		_exit(-pl_fsync(buf->fd) & 0xff);
	while (pl_now_ms() < end) {
		state = task_state(pid);
		if (page_state(buf, &dirty, wb_held))
			break;
		if (state == 'D' && *wb_held == NP) {
			ok = 1;
			break;
		}
		usleep(10000);
	}
	if (ok) {
		usleep(HOLD_MARGIN_MS * 1000);
		ok = !pl_dma_write(mfd, h, 0, buf->len, 0, seq) &&
		     pl_device_wrote(buf, h, *seq);
	} else {
		ksft_print_msg("the fsync did not block on the held I/O: state %c, %zu pages under writeback\n",
			       state ? state : '?', *wb_held);
	}
	if (lower_suspend(0))
		ksft_exit_fail_msg("resume %s: %s\n", st.lower, strerror(errno));
	if (waitpid(pid, &status, 0) != pid)
		ksft_exit_fail_msg("waitpid: %s\n", strerror(errno));
	*fsync_ret = WIFEXITED(status) ? -WEXITSTATUS(status) : -EINTR;
	return ok;
}

/* Generation A, the CPU's store into the mapping (B is the handle's seq 1). */
#define A_SEQ	1000

static void run_case(int mfd, enum layer l, enum point pt)
{
	const struct layer_def *d = &layers[l];
	int ok, want_eio = expect_eio(pt), fsync1 = -1, fsync2 = -1;
	size_t dirty0 = 0, wb0 = 0, dirty1 = NP, wb1 = NP, msgs = 0, wbh = 0;
	int kmsg = pl_kmsg_open(), perr = 0, pinned_read = 0;
	struct pl_census pinned = { 0 }, after = { 0 };
	char name[96], word[32];
	__u32 h = 0, seq_b = 0;
	long long bad0 = corrupt_count(l), bad1 = -1;
	__u64 fired = 0;
	struct pl_buf buf;

	snprintf(name, sizeof(name), "%s %s", d->name, points[pt].name);
	if (kmsg < 0)
		ksft_exit_fail_msg("/dev/kmsg: %s\n", strerror(errno));
	/*
	 * Long-term where the kernel grants it; 6.5+ refuses that of a
	 * MAP_SHARED file on every layer here (checked, EFAULT) and the
	 * case runs on the short-term FOLL_PIN it still grants: the window
	 * is the same, what the refusal leaves open.
	 */
	if (pl_buf_setup_device_pin(&buf, PL_MEM_EXT4_SHARED, mfd,
				    pl_pin_kinds[PL_PIN_LONGTERM].method, &h)) {
		ksft_test_result_fail("%s: set-up\n", name);
		close(kmsg);
		return;
	}
	pl_fill_stamps(buf.addr, buf.len, h, A_SEQ);
	ok = !page_state(&buf, &dirty0, &wb0);
	if (ok && pt == HELD) {
		ok = held_write(mfd, &buf, h, &seq_b, &fsync1, &wbh) &&
		     !page_state(&buf, &dirty1, &wb1);
		fired = ok ? NP : 0;
	} else if (ok) {
		ok = !pl_inject_arm(mfd, h, points[pt].point, 0, NP, 0,
				    pl_page_size, &seq_b);
		if (ok)
			fsync1 = pl_fsync(buf.fd);
		ok = ok && !pl_inject_disarm(mfd, h, points[pt].point, &fired) &&
		     pl_device_wrote(&buf, h, seq_b) &&
		     !page_state(&buf, &dirty1, &wb1);
	}
	/* btrfs: an O_DIRECT read would write back a dirty page first. */
	if (ok && (d->integrity || (!dirty1 && !wb1))) {
		ok = !(d->integrity ?
		       disk_census_pages(&buf, h, seq_b, &pinned, &perr) :
		       direct_census_pages(&buf, h, seq_b, &pinned, &perr));
		pinned_read = ok;
	}
	ok = !pl_unpin(mfd, h, 0) && ok;
	if (ok) {
		fsync2 = pl_fsync(buf.fd);
		ok = !pl_drop_cache_census_pages(&buf, h, seq_b, &after);
	}
	pl_buf_teardown(&buf);
	msgs = pl_kmsg_count(kmsg, d->csum_msg);
	close(kmsg);
	bad1 = corrupt_count(l);

	ksft_print_msg("[INFO] %s: %zu/%d pages dirty before the fsync (%zu writeback); %s %llu/%d; fsync %d; after it %zu dirty %zu writeback; while pinned (%s): fresh %zu older %zu original %zu torn %zu, integrity errors %zu (%s); clean unpin, fsync %d; after eviction: fresh %zu older %zu original %zu torn %zu EIO %zu; checksum failures counted %lld (%lld -> %lld), \"%s\" logged %zu times (rate limited)\n",
		       name, dirty0, NP, wb0,
		       pt == HELD ? "written while held" : "fired",
		       (unsigned long long)fired, NP,
		       fsync1, dirty1, wb1,
		       !pinned_read ? "not read" : d->integrity ?
		       "block device" : "O_DIRECT", pinned.fresh, pinned.older,
		       pinned.original, pinned.torn, pinned.eio,
		       perr == EILSEQ ? "EILSEQ" : perr ? "EIO" : "-", fsync2,
		       after.fresh, after.older, after.original, after.torn,
		       after.eio, bad1 - bad0, bad0, bad1, d->csum_msg, msgs);
	printf("# MATRIX table=hazards id=H5 hazard=stable-pages case=%s-%s | outcome=%s (%zu of %d pages, read(2) after eviction; while pinned %s; fsync %s)\n",
	       d->name, points[pt].name,
	       ok ? pl_census_outcome(&after, NP, "STALE", word, sizeof(word)) :
		    "ERROR", after.eio ? after.eio : after.fresh, NP,
	       !pinned_read ? "not read" : pinned.eio ?
	       (perr == EILSEQ ? "EILSEQ" : "EIO") :
	       pinned.fresh == NP ? "OK" : "STALE",
	       fsync1 || fsync2 ? "failed" : "0");

	/* See the header comment. */
	ok = ok && pinned_read && dirty0 == NP && !wb0 && fired == NP &&
	     !fsync1 && !dirty1 && !wb1 && !fsync2 &&
	     pinned.eio == (want_eio ? NP : 0) &&
	     pinned.fresh == (want_eio ? 0 : NP) &&
	     after.eio == (want_eio ? NP : 0) &&
	     after.fresh == (want_eio ? 0 : NP) && bad0 >= 0 && bad1 >= 0 &&
	     (want_eio ? bad1 > bad0 : bad1 == bad0);
	ksft_test_result(ok, "%s: %s\n", name,
			 want_eio ? "the disk fails its checksum, fsync 0" :
				    "the device's bytes on disk, checksums valid");
}

int main(void)
{
	int fd = pl_open_or_skip();
	unsigned int l, pt, plan;

	if (access(INTEGRITYSETUP, X_OK) || access("/sbin/mkfs.btrfs", X_OK))
		ksft_exit_fail_msg("needs integritysetup (cryptsetup-bin) and mkfs.btrfs (btrfs-progs) on the host\n");
	/* A set-up result per layer, and its cases. */
	for (l = 0, plan = 0; l < NR_LAYERS; l++)
		for (plan++, pt = 0; pt < NR_POINTS; pt++)
			plan += applies(l, pt);
	ksft_set_plan(plan);
	atexit(teardown);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	/*
	 * Modules on Debian's kernels (and maybe a user's); built in on base
	 * and patched.
	 */
	pl_need_module("btrfs", "/sys/fs/btrfs");
	if (!pl_kernel_ours())
		pl_need_module("dm_integrity", "/sys/module/dm_integrity");
	for (l = 0; l < NR_LAYERS; l++) {
		int ret = layer_setup(l);

		ksft_test_result(!ret && layout_ok(l), "%s: made and mounted as asked\n",
				 layers[l].name);
		if (ret)
			ksft_exit_fail_msg("%s: cannot make the layer\n",
					   layers[l].name);
		/* pl_buf_setup()'s file backings take their directory from here. */
		setenv("PINLAB_EXT4", st.dir, 1);
		for (pt = 0; pt < NR_POINTS; pt++)
			if (applies(l, pt))
				run_case(fd, l, pt);
		teardown();
	}
	close(fd);
	ksft_finished();
}
