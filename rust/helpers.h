/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out-of-line versions of static inline kernel functions and macros that the
 * Rust wrappers call. Implemented in helpers.c; declared here for bindgen.
 */
#ifndef KFS_RUST_HELPERS_H
#define KFS_RUST_HELPERS_H

#include <linux/fs.h>
#include <linux/buffer_head.h>
#include <linux/blkdev.h>
#include <linux/dcache.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/iomap.h>
#include <linux/workqueue.h>
#include <linux/fileattr.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/security.h>

loff_t kfs_helper_i_size_read(const struct inode *inode);
void kfs_helper_i_size_write(struct inode *inode, loff_t size);
bool kfs_helper_inode_is_new(struct inode *inode);
bool kfs_helper_inode_dirty_datasync(struct inode *inode);
void kfs_helper_inode_set_owner(struct inode *inode, u32 uid, u32 gid);
u32 kfs_helper_inode_uid(const struct inode *inode);
u32 kfs_helper_inode_gid(const struct inode *inode);
void kfs_helper_inode_set_times(struct inode *inode,
				  s64 asec, u32 ansec, s64 msec, u32 mnsec,
				  s64 csec, u32 cnsec);
void kfs_helper_inode_set_cached_link(struct inode *inode, char *link, int len);

struct buffer_head *kfs_helper_sb_bread(struct super_block *sb, sector_t block);
bool kfs_helper_buffer_checked(struct buffer_head *bh);
void kfs_helper_set_buffer_checked(struct buffer_head *bh, bool checked);
void kfs_helper_brelse(struct buffer_head *bh);
void kfs_helper_lock_buffer(struct buffer_head *bh);
void kfs_helper_buffer_copy_out(struct buffer_head *bh, void *dst);
void kfs_helper_buffer_copy_in(struct buffer_head *bh, const void *src);
loff_t kfs_helper_bdev_nr_bytes(struct block_device *bdev);

const unsigned char *kfs_helper_dentry_name(const struct dentry *dentry, u32 *len);
bool kfs_helper_dir_emit(struct dir_context *ctx, const char *name, int len,
			   u64 ino, unsigned int type);


void kfs_helper_inode_times(const struct inode *inode, s64 *sec, u32 *nsec);
void kfs_helper_inode_lock(struct inode *inode);
void kfs_helper_inode_lock_child(struct inode *inode);
unsigned long kfs_helper_sb_pin_if_busy(struct super_block *sb);
void kfs_helper_inode_lock_shared(struct inode *inode);
bool kfs_helper_inode_trylock(struct inode *inode);
bool kfs_helper_inode_trylock_shared(struct inode *inode);
void kfs_helper_inode_unlock_shared(struct inode *inode);
void kfs_helper_inode_unlock(struct inode *inode);
void kfs_helper_invalidate_lock(struct inode *inode);
void kfs_helper_invalidate_unlock(struct inode *inode);
void kfs_helper_invalidate_lock_shared(struct inode *inode);
void kfs_helper_invalidate_unlock_shared(struct inode *inode);
void kfs_helper_sb_start_pagefault(struct super_block *sb);
void kfs_helper_sb_end_pagefault(struct super_block *sb);
ssize_t kfs_helper_generic_write_sync(struct kiocb *iocb, ssize_t count);
void kfs_helper_mark_inode_dirty(struct inode *inode);
void kfs_helper_file_accessed(struct file *file);
unsigned int kfs_helper_memalloc_nofs_save(void);
void kfs_helper_memalloc_nofs_restore(unsigned int flags);
struct buffer_head *kfs_helper_sb_getblk_zeroed(struct super_block *sb, sector_t block);
void kfs_helper_forget_block(struct super_block *sb, sector_t block);
struct inode *kfs_helper_file_inode(const struct file *file);
struct inode *kfs_helper_d_inode(const struct dentry *dentry);
bool kfs_helper_inode_is_dir(const struct inode *inode);
void kfs_helper_inode_set_blocks(struct inode *inode, u64 sectors);
struct file *kfs_helper_vmf_file(struct vm_fault *vmf);
void kfs_helper_touch_mtime_ctime(struct inode *inode);
void kfs_helper_touch_all_times(struct inode *inode);
unsigned int kfs_helper_fileattr_flags(const struct file_kattr *fa);
bool kfs_helper_fileattr_has_fsx(const struct file_kattr *fa);
void kfs_helper_sb_start_intwrite(struct super_block *sb);
void kfs_helper_sb_end_intwrite(struct super_block *sb);
size_t kfs_helper_iov_iter_count(const struct iov_iter *i);
bool kfs_helper_can_sleep(void);
void kfs_helper_mapping_set_large_folios(struct address_space *mapping);
struct dentry *kfs_helper_file_dentry(struct file *file);
unsigned long kfs_helper_get_unmapped_area(struct file *file, unsigned long addr,
					   unsigned long len, unsigned long pgoff,
					   unsigned long flags);
void kfs_helper_statx_dioalign(struct kstat *stat, struct block_device *bdev);


struct kfs_endio;
struct kfs_endio *kfs_helper_endio_alloc(const char *id,
					 void (*complete)(struct iomap_ioend *ioend));
void kfs_helper_endio_free(struct kfs_endio *q);
int kfs_helper_writeback_submit_deferred(struct iomap_writepage_ctx *wpc, int error,
					 struct kfs_endio *q);
int kfs_helper_ioend_status(struct iomap_ioend *ioend);
void kfs_helper_posix_acl_release(struct posix_acl *acl);
int kfs_helper_init_security(struct inode *inode, struct inode *dir,
			     const unsigned char *name, u32 len,
			     int (*store)(struct inode *inode, const struct xattr *xattrs,
					  void *fs_data));

#endif
