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

struct buffer_head *mapfs_helper_sb_bread(struct super_block *sb, sector_t block)
{
	return sb_bread(sb, block);
}

void mapfs_helper_brelse(struct buffer_head *bh)
{
	brelse(bh);
}
