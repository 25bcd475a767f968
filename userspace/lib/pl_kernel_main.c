// SPDX-License-Identifier: GPL-2.0
/*
 * pl_kernel: which kernel this is, as userspace/lib/pinlab.c pl_kernel()
 * decides it, for the shell test programs (fio_jobs, mm_selftests), so
 * there is one place that decides.  Prints shell assignments:
 *   PL_KERNEL=<name>  stock, base, patched, stock612, user-6.1, user-6.12
 *                     or user-patched
 *   PL_REFUSES_LONGTERM_FILE_WRITE=0|1, PL_PATCHED=0|1, PL_DEBIAN=0|1,
 *   PL_OURS=0|1, PL_USER=0|1
 * and exits 0; when $PINLAB_KERNEL disagrees, a "Bail out!" line and exit 1.
 */
#include "pinlab.h"

int main(void)
{
	const char *name = pl_kernel_name();

	printf("PL_KERNEL=%s\nPL_REFUSES_LONGTERM_FILE_WRITE=%d\nPL_PATCHED=%d\n"
	       "PL_DEBIAN=%d\nPL_OURS=%d\nPL_USER=%d\n", name,
	       pl_kernel_refuses_longterm_file_write(), pl_kernel_patched(),
	       pl_kernel_debian(), pl_kernel_ours(), pl_kernel_user());
	return 0;
}
