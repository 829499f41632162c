// expect: E0624
//! A filesystem type is registered by the module's own `FsModule` and
//! unregistered at module unload only: `unregister_filesystem` waits for no
//! mount and no mount context, so a `Registration` a filesystem could make
//! and drop while mounted would leave `kill_sb` and `fsconfig` running on
//! freed memory. Its constructor is not public.
#![forbid(unsafe_code)]

use crate::kfs::vfs::Registration;
use crate::MapFs;
use kernel::prelude::*;

pub(crate) fn register_for_a_while(module: &'static ThisModule) -> Result {
    let reg = KBox::pin_init(Registration::<MapFs>::new(module, true), GFP_KERNEL)?;
    drop(reg);
    Ok(())
}
