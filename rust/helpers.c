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
