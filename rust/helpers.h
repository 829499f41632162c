/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out-of-line versions of static inline kernel functions that the Rust
 * wrappers call. Implemented in helpers.c; declared here for bindgen.
 */
#ifndef MAPFS_RUST_HELPERS_H
#define MAPFS_RUST_HELPERS_H

#include <linux/fs.h>
#include <linux/buffer_head.h>

loff_t mapfs_helper_i_size_read(const struct inode *inode);
void mapfs_helper_i_size_write(struct inode *inode, loff_t size);
struct buffer_head *mapfs_helper_sb_bread(struct super_block *sb, sector_t block);
void mapfs_helper_brelse(struct buffer_head *bh);

#endif
