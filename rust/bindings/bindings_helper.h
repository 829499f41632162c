/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers whose items the wrappers need and kernel::bindings lacks. The generator
 * (gen.sh) keeps only the items named in bindgen_parameters and reuses every
 * type that kernel::bindings already defines, so one C type has one Rust type.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/iomap.h>
#include <linux/pagemap.h>
#include <linux/buffer_head.h>
#include <linux/writeback.h>
#include <linux/statfs.h>
#include <linux/mm.h>
#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/fileattr.h>
#include <linux/xattr.h>
#include <linux/capability.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include "../helpers.h"

/*
 * Constants defined with macros bindgen cannot evaluate (BIT(), casts):
 * typed copies, bound as KFS_CONST_*.
 */
const unsigned long KFS_CONST_SB_RDONLY = SB_RDONLY;
const int KFS_CONST_IOCB_NOWAIT = IOCB_NOWAIT;
const int KFS_CONST_IOCB_DIRECT = IOCB_DIRECT;
const int KFS_CONST_IOCB_APPEND = IOCB_APPEND;
const unsigned int KFS_CONST_S_NOSEC = S_NOSEC;
const unsigned int KFS_CONST_FMODE_CAN_ODIRECT = (__force unsigned int)FMODE_CAN_ODIRECT;
const unsigned int KFS_CONST_FMODE_NOWAIT = (__force unsigned int)FMODE_NOWAIT;
const fop_flags_t KFS_CONST_FOP_BUFFER_RASYNC = FOP_BUFFER_RASYNC;
const fop_flags_t KFS_CONST_FOP_BUFFER_WASYNC = FOP_BUFFER_WASYNC;
const int KFS_CONST_SEEK_DATA = SEEK_DATA;
const int KFS_CONST_SEEK_HOLE = SEEK_HOLE;
const unsigned int KFS_CONST_S_IMMUTABLE = S_IMMUTABLE;
const unsigned int KFS_CONST_S_APPEND = S_APPEND;
const unsigned int KFS_CONST_S_NOATIME = S_NOATIME;
const unsigned int KFS_CONST_WHITEOUT_DEV = WHITEOUT_DEV;
const unsigned short KFS_CONST_WHITEOUT_MODE = WHITEOUT_MODE;
const unsigned int KFS_CONST_FS_IMMUTABLE_FL = FS_IMMUTABLE_FL;
const unsigned int KFS_CONST_FS_APPEND_FL = FS_APPEND_FL;
const unsigned int KFS_CONST_FS_NOATIME_FL = FS_NOATIME_FL;
const int KFS_CAP_SYS_ADMIN = CAP_SYS_ADMIN;
const unsigned long KFS_CONST_SB_POSIXACL = SB_POSIXACL;
