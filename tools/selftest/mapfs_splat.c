// SPDX-License-Identifier: GPL-2.0
/*
 * mapfs_splat: deliberately produce one kernel report, chosen by the "kind"
 * parameter, so that `make selftest-harness` can prove that the VM harness
 * fails a run whose kernel log holds it. Test infrastructure only.
 *
 *   kind=kasan    a one-byte heap overflow (BUG: KASAN: slab-out-of-bounds)
 *   kind=warn     WARN_ON(1)                (WARNING: mapfs_splat.c:N at ...)
 *   kind=lockdep  AB then BA lock order     (WARNING: possible circular locking)
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/mutex.h>

static char *kind = "";
module_param(kind, charp, 0444);
MODULE_PARM_DESC(kind, "kasan, warn or lockdep");

static DEFINE_MUTEX(lock_a);
static DEFINE_MUTEX(lock_b);

static noinline void splat_kasan(void)
{
	volatile char *p = kmalloc(16, GFP_KERNEL);

	if (!p)
		return;
	p[16] = 1;
	kfree((void *)p);
}

static noinline void splat_lockdep(void)
{
	mutex_lock(&lock_a);
	mutex_lock(&lock_b);
	mutex_unlock(&lock_b);
	mutex_unlock(&lock_a);

	mutex_lock(&lock_b);
	mutex_lock(&lock_a);
	mutex_unlock(&lock_a);
	mutex_unlock(&lock_b);
}

static int __init mapfs_splat_init(void)
{
	if (!strcmp(kind, "kasan"))
		splat_kasan();
	else if (!strcmp(kind, "warn"))
		WARN_ON(1);
	else if (!strcmp(kind, "lockdep"))
		splat_lockdep();
	else
		return -EINVAL;
	return 0;
}

static void __exit mapfs_splat_exit(void)
{
}

module_init(mapfs_splat_init);
module_exit(mapfs_splat_exit);
MODULE_DESCRIPTION("mapfs harness self-test: deliberate kernel reports");
MODULE_LICENSE("GPL");
