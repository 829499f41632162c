// expect: E0277
//! Issue 11, item 5: a lock guard must be released by the task that took
//! it. `BufferGuard` is `!Send`.
#![forbid(unsafe_code)]

use crate::kfs::vfs::Buffer;
use kernel::prelude::*;

fn on_another_task<T: Send>(_value: T) {}

pub(crate) fn unlock_elsewhere(buf: &Buffer<'_>) -> Result {
    on_another_task(buf.lock()?);
    Ok(())
}
