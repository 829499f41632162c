// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line versions of static inline kernel functions for the Rust
 * wrappers (bindgen cannot bind a static inline). Each one only forwards.
 */
#include "helpers.h"

loff_t kfs_helper_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

void kfs_helper_i_size_write(struct inode *inode, loff_t size)
{
	i_size_write(inode, size);
}

bool kfs_helper_inode_is_new(struct inode *inode)
{
	return inode_state_read_once(inode) & I_NEW;
}

/* Whether fdatasync must write the inode: more than timestamps changed. */
bool kfs_helper_inode_dirty_datasync(struct inode *inode)
{
	return inode_state_read_once(inode) & I_DIRTY_DATASYNC;
}

void kfs_helper_inode_set_owner(struct inode *inode, u32 uid, u32 gid)
{
	i_uid_write(inode, uid);
	i_gid_write(inode, gid);
}

u32 kfs_helper_inode_uid(const struct inode *inode)
{
	return i_uid_read(inode);
}

u32 kfs_helper_inode_gid(const struct inode *inode)
{
	return i_gid_read(inode);
}

void kfs_helper_inode_set_times(struct inode *inode,
				  s64 asec, u32 ansec, s64 msec, u32 mnsec,
				  s64 csec, u32 cnsec)
{
	inode_set_atime(inode, asec, ansec);
	inode_set_mtime(inode, msec, mnsec);
	inode_set_ctime(inode, csec, cnsec);
}

void kfs_helper_inode_set_cached_link(struct inode *inode, char *link, int len)
{
	inode_set_cached_link(inode, link, len);
}

/*
 * BH_PrivateStart is the filesystem's own state bit (the block layer does not
 * touch it). Here it means "checked": the bytes were verified by the
 * filesystem since they were last read from the device or changed. It is
 * cleared before every read from the device, so bytes that come from the
 * disk are never taken as checked.
 */
struct buffer_head *kfs_helper_sb_bread(struct super_block *sb, sector_t block)
{
	struct buffer_head *bh = sb_getblk(sb, block);

	if (!bh)
		return NULL;
	if (!buffer_uptodate(bh)) {
		clear_bit(BH_PrivateStart, &bh->b_state);
		if (bh_read(bh, 0) < 0) {
			brelse(bh);
			return NULL;
		}
	}
	return bh;
}

bool kfs_helper_buffer_checked(struct buffer_head *bh)
{
	return test_bit(BH_PrivateStart, &bh->b_state);
}

void kfs_helper_set_buffer_checked(struct buffer_head *bh, bool checked)
{
	if (checked)
		set_bit(BH_PrivateStart, &bh->b_state);
	else
		clear_bit(BH_PrivateStart, &bh->b_state);
}

void kfs_helper_brelse(struct buffer_head *bh)
{
	brelse(bh);
}

void kfs_helper_lock_buffer(struct buffer_head *bh)
{
	lock_buffer(bh);
}

/*
 * A locked buffer's bytes to or from a private copy. The page may be stored
 * into meanwhile by a task with the device open for writing (no lock keeps
 * it out): memcpy is how the kernel reads such memory, and Rust never holds
 * a reference to it (rust/vfs/buffer.rs).
 */
void kfs_helper_buffer_copy_out(struct buffer_head *bh, void *dst)
{
	memcpy(dst, bh->b_data, bh->b_size);
}

void kfs_helper_buffer_copy_in(struct buffer_head *bh, const void *src)
{
	memcpy(bh->b_data, src, bh->b_size);
}

loff_t kfs_helper_bdev_nr_bytes(struct block_device *bdev)
{
	return bdev_nr_bytes(bdev);
}

bool kfs_helper_dir_emit(struct dir_context *ctx, const char *name, int len,
			   u64 ino, unsigned int type)
{
	return dir_emit(ctx, name, len, ino, type);
}

const unsigned char *kfs_helper_dentry_name(const struct dentry *dentry, u32 *len)
{
	*len = dentry->d_name.len;
	return dentry->d_name.name;
}

/* a/m/ctime into sec[3], nsec[3] */
void kfs_helper_inode_times(const struct inode *inode, s64 *sec, u32 *nsec)
{
	struct timespec64 a = inode_get_atime(inode);
	struct timespec64 m = inode_get_mtime(inode);
	struct timespec64 c = inode_get_ctime(inode);

	sec[0] = a.tv_sec; nsec[0] = a.tv_nsec;
	sec[1] = m.tv_sec; nsec[1] = m.tv_nsec;
	sec[2] = c.tv_sec; nsec[2] = c.tv_nsec;
}

/*
 * Inodes still on the super block after put_super's evictions: references
 * the filesystem never dropped (Rust's mem::forget is safe). Their address
 * spaces keep pointing at the module's tables, and the inode cache is the
 * module's, so the module must then never be unloaded: take a reference to
 * it that nothing drops. Returns how many there are.
 */
unsigned long kfs_helper_sb_pin_if_busy(struct super_block *sb)
{
	struct inode *inode;
	unsigned long n = 0;

	spin_lock(&sb->s_inode_list_lock);
	list_for_each_entry(inode, &sb->s_inodes, i_sb_list)
		n++;
	spin_unlock(&sb->s_inode_list_lock);
	if (n)
		__module_get(sb->s_type->owner);
	return n;
}

void kfs_helper_inode_lock(struct inode *inode)
{
	inode_lock(inode);
}

/* A new inode's lock, taken inside its parent directory's (lockdep subclass). */
void kfs_helper_inode_lock_child(struct inode *inode)
{
	inode_lock_nested(inode, I_MUTEX_CHILD);
}

void kfs_helper_inode_unlock(struct inode *inode)
{
	inode_unlock(inode);
}

bool kfs_helper_inode_trylock(struct inode *inode)
{
	return inode_trylock(inode);
}

bool kfs_helper_inode_trylock_shared(struct inode *inode)
{
	return inode_trylock_shared(inode);
}

void kfs_helper_inode_lock_shared(struct inode *inode)
{
	inode_lock_shared(inode);
}

void kfs_helper_inode_unlock_shared(struct inode *inode)
{
	inode_unlock_shared(inode);
}

void kfs_helper_invalidate_lock(struct inode *inode)
{
	filemap_invalidate_lock(inode->i_mapping);
}

void kfs_helper_invalidate_unlock(struct inode *inode)
{
	filemap_invalidate_unlock(inode->i_mapping);
}

void kfs_helper_invalidate_lock_shared(struct inode *inode)
{
	filemap_invalidate_lock_shared(inode->i_mapping);
}

void kfs_helper_invalidate_unlock_shared(struct inode *inode)
{
	filemap_invalidate_unlock_shared(inode->i_mapping);
}

void kfs_helper_sb_start_pagefault(struct super_block *sb)
{
	sb_start_pagefault(sb);
}

void kfs_helper_sb_end_pagefault(struct super_block *sb)
{
	sb_end_pagefault(sb);
}

ssize_t kfs_helper_generic_write_sync(struct kiocb *iocb, ssize_t count)
{
	return generic_write_sync(iocb, count);
}

void kfs_helper_mark_inode_dirty(struct inode *inode)
{
	mark_inode_dirty(inode);
}

void kfs_helper_file_accessed(struct file *file)
{
	file_accessed(file);
}

unsigned int kfs_helper_memalloc_nofs_save(void)
{
	return memalloc_nofs_save();
}

void kfs_helper_memalloc_nofs_restore(unsigned int flags)
{
	memalloc_nofs_restore(flags);
}

/*
 * A block the filesystem is about to fill completely: no read; the buffer
 * is zeroed and marked up to date under its lock.
 */
struct buffer_head *kfs_helper_sb_getblk_zeroed(struct super_block *sb, sector_t block)
{
	struct buffer_head *bh = sb_getblk(sb, block);

	if (!bh)
		return NULL;
	lock_buffer(bh);
	clear_bit(BH_PrivateStart, &bh->b_state);
	memset(bh->b_data, 0, bh->b_size);
	set_buffer_uptodate(bh);
	unlock_buffer(bh);
	return bh;
}

/*
 * A freed metadata block: drop any cached (possibly dirty) buffer so that it
 * is never written over the block's next owner.
 */
void kfs_helper_forget_block(struct super_block *sb, sector_t block)
{
	struct buffer_head *bh = __find_get_block(sb->s_bdev, block, sb->s_blocksize);

	if (bh)
		__bforget(bh);
}

struct inode *kfs_helper_file_inode(const struct file *file)
{
	return file_inode(file);
}

struct inode *kfs_helper_d_inode(const struct dentry *dentry)
{
	return d_inode(dentry);
}

bool kfs_helper_inode_is_dir(const struct inode *inode)
{
	return S_ISDIR(inode->i_mode);
}

/* mtime = ctime = now (a directory whose entries changed). */
void kfs_helper_touch_mtime_ctime(struct inode *inode)
{
	inode_set_mtime_to_ts(inode, inode_set_ctime_current(inode));
}

/* atime = mtime = ctime = now (a new inode). */
void kfs_helper_touch_all_times(struct inode *inode)
{
	struct timespec64 now = inode_set_ctime_current(inode);

	inode_set_mtime_to_ts(inode, now);
	inode_set_atime_to_ts(inode, now);
}

/* The FS_*_FL flags a chattr request asks for (FS_IOC_SETFLAGS, or
 * FS_IOC_FSSETXATTR's common xflags, which the VFS translated). */
unsigned int kfs_helper_fileattr_flags(const struct file_kattr *fa)
{
	return fa->flags;
}

/* Whether it also asks for fsxattr-only attributes (extent size, project). */
bool kfs_helper_fileattr_has_fsx(const struct file_kattr *fa)
{
	return fileattr_has_fsx(fa);
}

struct file *kfs_helper_vmf_file(struct vm_fault *vmf)
{
	return vmf->vma->vm_file;
}

void kfs_helper_sb_start_intwrite(struct super_block *sb)
{
	sb_start_intwrite(sb);
}

void kfs_helper_sb_end_intwrite(struct super_block *sb)
{
	sb_end_intwrite(sb);
}

size_t kfs_helper_iov_iter_count(const struct iov_iter *i)
{
	return iov_iter_count(i);
}

/*
 * Neither interrupt nor softirq context, interrupts on. This does not see a
 * task that disabled preemption (a spinlock held around a polled
 * completion): it guards against iomap completing in interrupt context what
 * it completes in process context today (unwritten and extending direct
 * writes), not a proof that any context may sleep.
 */
bool kfs_helper_can_sleep(void)
{
	return in_task() && !irqs_disabled();
}

void kfs_helper_mapping_set_large_folios(struct address_space *mapping)
{
	mapping_set_large_folios(mapping);
}

/*
 * Where a new mapping of a regular file goes: with THP, at an address that
 * has the file offset's alignment within a PMD when the mapping is large
 * enough (thp_get_unmapped_area, as XFS and ext4 ask for), so that a fault
 * maps a whole large folio; otherwise, or without THP, where the mm would
 * put it anyway. Without it, a folio that straddles a page-table boundary
 * in the process's address space is mapped one page per fault.
 */
struct dentry *kfs_helper_file_dentry(struct file *file)
{
	return file->f_path.dentry;
}

unsigned long kfs_helper_get_unmapped_area(struct file *file, unsigned long addr,
					   unsigned long len, unsigned long pgoff,
					   unsigned long flags)
{
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	return thp_get_unmapped_area(file, addr, len, pgoff, flags);
#else
	return mm_get_unmapped_area(file, addr, len, pgoff, flags);
#endif
}

/* statx's STATX_DIOALIGN for direct I/O to files on bdev. */
void kfs_helper_statx_dioalign(struct kstat *stat, struct block_device *bdev)
{
	stat->dio_mem_align = bdev_dma_alignment(bdev) + 1;
	stat->dio_offset_align = bdev_logical_block_size(bdev);
	stat->result_mask |= STATX_DIOALIGN;
}

/*
 * i_blocks under i_lock, as inode_add_bytes() does: two updaters never
 * interleave, whatever locks the caller holds. Readers (generic_fillattr)
 * read it without a lock, as on every filesystem.
 */
void kfs_helper_inode_set_blocks(struct inode *inode, u64 sectors)
{
	spin_lock(&inode->i_lock);
	inode->i_blocks = sectors;
	inode->i_bytes = 0;
	spin_unlock(&inode->i_lock);
}

/*
 * Writeback completion in process context (as XFS's xfs_end_bio/xfs_end_io):
 * an ioend whose completion changes the filesystem (unwritten blocks to
 * convert, an on-disk size to advance) gets kfs_endio_bio as its bi_end_io.
 * That runs in interrupt context: it only queues the ioend on its super
 * block's list and the work. The work calls the Rust completion for each
 * queued ioend, which calls iomap_finish_ioends.
 */
struct kfs_endio {
	struct workqueue_struct *wq;
	struct work_struct work;
	spinlock_t lock;
	struct list_head ioends;
	void (*complete)(struct iomap_ioend *ioend);
};

static void kfs_endio_work(struct work_struct *work)
{
	struct kfs_endio *q = container_of(work, struct kfs_endio, work);
	struct iomap_ioend *ioend;
	struct list_head tmp;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	list_replace_init(&q->ioends, &tmp);
	spin_unlock_irqrestore(&q->lock, flags);

	/*
	 * No iomap_ioend_try_merge: the list holds the ioends of every inode
	 * of the super block, and it would merge the ioends of two inodes that
	 * happen to be contiguous in file offset and on disk (it checks
	 * neither the inode nor io_private beyond equality), completing the
	 * second inode's range as the first's. XFS keeps a list per inode.
	 */
	while ((ioend = list_first_entry_or_null(&tmp, struct iomap_ioend, io_list))) {
		list_del_init(&ioend->io_list);
		q->complete(ioend);
		cond_resched();
	}
}

static void kfs_endio_bio(struct bio *bio)
{
	struct iomap_ioend *ioend = iomap_ioend_from_bio(bio);
	struct kfs_endio *q = ioend->io_private;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	if (list_empty(&q->ioends))
		WARN_ON_ONCE(!queue_work(q->wq, &q->work));
	list_add_tail(&ioend->io_list, &q->ioends);
	spin_unlock_irqrestore(&q->lock, flags);
}

struct kfs_endio *kfs_helper_endio_alloc(const char *id,
					 void (*complete)(struct iomap_ioend *ioend))
{
	struct kfs_endio *q = kzalloc(sizeof(*q), GFP_KERNEL);

	if (!q)
		return NULL;
	/* Writeback completion is on the memory reclaim path. */
	q->wq = alloc_workqueue("kfs-endio/%s", WQ_MEM_RECLAIM | WQ_FREEZABLE | WQ_PERCPU, 0, id);
	if (!q->wq) {
		kfree(q);
		return NULL;
	}
	INIT_WORK(&q->work, kfs_endio_work);
	spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->ioends);
	q->complete = complete;
	return q;
}

/* Runs every queued completion (destroy_workqueue drains), then frees. */
void kfs_helper_endio_free(struct kfs_endio *q)
{
	destroy_workqueue(q->wq);
	kfree(q);
}

int kfs_helper_writeback_submit_deferred(struct iomap_writepage_ctx *wpc, int error,
					 struct kfs_endio *q)
{
	struct iomap_ioend *ioend = wpc->wb_ctx;

	ioend->io_private = q;
	ioend->io_bio.bi_end_io = kfs_endio_bio;
	/* Completed in our task already: no second deferral. */
	bio_clear_flag(&ioend->io_bio, BIO_COMPLETE_IN_TASK);
	return iomap_ioend_writeback_submit(wpc, error);
}

int kfs_helper_ioend_status(struct iomap_ioend *ioend)
{
	return blk_status_to_errno(ioend->io_bio.bi_status);
}

void kfs_helper_posix_acl_release(struct posix_acl *acl)
{
	posix_acl_release(acl);
}

/*
 * The security labels the LSMs give a new inode, stored by 'store'
 * (security_inode_init_security: with no LSM, or none with a label for it,
 * 'store' is not called). 'name' is the new entry's name, 'len' bytes, or
 * NULL (an O_TMPFILE inode has none). A static inline without
 * CONFIG_SECURITY, hence the helper.
 */
int kfs_helper_init_security(struct inode *inode, struct inode *dir,
			     const unsigned char *name, u32 len,
			     int (*store)(struct inode *inode, const struct xattr *xattrs,
					  void *fs_data))
{
	struct qstr q = QSTR_INIT(name, len);

	return security_inode_init_security(inode, dir, name ? &q : NULL, store, NULL);
}
