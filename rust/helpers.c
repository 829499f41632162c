// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line versions of static inline kernel functions for the Rust
 * wrappers (bindgen cannot bind a static inline). Each one only forwards.
 */
#include "helpers.h"

loff_t mapfs_helper_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

void mapfs_helper_i_size_write(struct inode *inode, loff_t size)
{
	i_size_write(inode, size);
}

bool mapfs_helper_inode_is_new(struct inode *inode)
{
	return inode_state_read_once(inode) & I_NEW;
}

void mapfs_helper_inode_set_owner(struct inode *inode, u32 uid, u32 gid)
{
	i_uid_write(inode, uid);
	i_gid_write(inode, gid);
}

u32 mapfs_helper_inode_uid(const struct inode *inode)
{
	return i_uid_read(inode);
}

u32 mapfs_helper_inode_gid(const struct inode *inode)
{
	return i_gid_read(inode);
}

void mapfs_helper_inode_set_times(struct inode *inode,
				  s64 asec, u32 ansec, s64 msec, u32 mnsec,
				  s64 csec, u32 cnsec)
{
	inode_set_atime(inode, asec, ansec);
	inode_set_mtime(inode, msec, mnsec);
	inode_set_ctime(inode, csec, cnsec);
}

void mapfs_helper_inode_set_cached_link(struct inode *inode, char *link, int len)
{
	inode_set_cached_link(inode, link, len);
}

struct buffer_head *mapfs_helper_sb_bread(struct super_block *sb, sector_t block)
{
	return sb_bread(sb, block);
}

void mapfs_helper_brelse(struct buffer_head *bh)
{
	brelse(bh);
}

void mapfs_helper_lock_buffer(struct buffer_head *bh)
{
	lock_buffer(bh);
}

loff_t mapfs_helper_bdev_nr_bytes(struct block_device *bdev)
{
	return bdev_nr_bytes(bdev);
}

bool mapfs_helper_dir_emit(struct dir_context *ctx, const char *name, int len,
			   u64 ino, unsigned int type)
{
	return dir_emit(ctx, name, len, ino, type);
}

const unsigned char *mapfs_helper_dentry_name(const struct dentry *dentry, u32 *len)
{
	*len = dentry->d_name.len;
	return dentry->d_name.name;
}
