// SPDX-License-Identifier: GPL-2.0

//! Mount options (`mount -o KEY[=VALUE],...`) parsed with the fs_context
//! parser.
//!
//! C header: [`include/linux/fs_parser.h`](srctree/include/linux/fs_parser.h).
//!
//! A filesystem describes its options as a plain list of [`MountOption`]s
//! (name and kind) and receives each one the user gives, already parsed, in
//! [`MountOptions::set`]. The C parser wants NUL-terminated arrays of
//! `struct fs_parameter_spec` and `struct constant_table` whose pointers stay
//! valid while the type is registered: [`ParamTables`] builds them from the
//! list when the filesystem registers, so a table without its terminator, or
//! a choice index that no entry has, cannot be written by the filesystem.
//!
//! The options of one mount live in the `fs_context` (`fs_private`) from
//! `init_fs_context` to its `free`; the VFS uses a context from one thread
//! at a time (`fsconfig` holds the context's mutex).

use crate::kfs::{bindings as b, HookResult};
use kernel::{alloc::KVec, prelude::*, str::CStrExt};

/// The value a mount option takes.
pub enum OptionKind {
    /// No value: `KEY` alone (`fsparam_flag`).
    Flag,
    /// One of the names, `KEY=NAME` (`fsparam_enum`); the filesystem gets the
    /// index of the name in this list.
    Choice(&'static [&'static CStr]),
    /// An unsigned 32-bit number, `KEY=N` (`fsparam_u32`, decimal).
    U32,
}

/// One mount option a filesystem accepts.
pub struct MountOption {
    /// The key, as the user writes it.
    pub name: &'static CStr,
    /// The value it takes.
    pub kind: OptionKind,
}

/// What the parser made of one option the user gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionValue {
    /// A [`OptionKind::Flag`] was given.
    Flag,
    /// A [`OptionKind::Choice`] was given: the index of the chosen name.
    Choice(usize),
    /// A [`OptionKind::U32`] was given, with this value.
    U32(u32),
}

/// The mount options of a filesystem and the state they parse into.
///
/// A value starts as `Default` for every mount and every remount; each
/// option the user gives is handed to [`Self::set`] in order. An option the
/// user does not give is left at its default, so a remount can tell "not
/// given" (keep what the mount has) from a value (for example with `Option`
/// fields).
pub trait MountOptions: Default + Send + 'static {
    /// The options, in any order (at most 255).
    const OPTIONS: &'static [MountOption];

    /// Records option number `option` (an index into [`Self::OPTIONS`]) with
    /// `value`, which matches that option's kind. An error refuses the mount
    /// (or remount); the filesystem should say why in the kernel log.
    fn set(&mut self, option: usize, value: OptionValue) -> Result;
}

/// A filesystem without mount options: every key but the generic ones
/// (`ro`, `rw`, `sync`, ... which the VFS parses itself) is refused with
/// `EINVAL` ("Unknown parameter").
impl MountOptions for () {
    const OPTIONS: &'static [MountOption] = &[];

    fn set(&mut self, _option: usize, _value: OptionValue) -> Result {
        Err(EINVAL)
    }
}

/// The C tables of a filesystem's options, owned by its registration.
///
/// Invariant: `specs` is [`MountOptions::OPTIONS`] in order followed by an
/// all-zero terminator; entry `i` has `opt == i`; the `data` of a choice
/// entry points into `choices[j]`, which lists that option's names in order
/// (value = index) followed by a terminator. The vectors are never changed
/// after [`Self::new`], so their heap buffers, which the specs point into,
/// stay where they are while the tables live.
pub(in crate::kfs) struct ParamTables {
    specs: KVec<b::fs_parameter_spec>,
    // Only kept alive: the choice specs point into these buffers.
    _choices: KVec<KVec<b::constant_table>>,
}

impl ParamTables {
    /// Builds the tables of `O`.
    pub(in crate::kfs) fn new<O: MountOptions>() -> Result<Self> {
        if O::OPTIONS.len() > usize::from(u8::MAX) {
            return Err(EINVAL);
        }
        let mut specs = KVec::with_capacity(O::OPTIONS.len() + 1, GFP_KERNEL)?;
        let mut choices = KVec::new();
        for (i, o) in O::OPTIONS.iter().enumerate() {
            let mut spec: b::fs_parameter_spec = pin_init::zeroed();
            spec.name = o.name.as_char_ptr();
            // Checked above: at most 255 options.
            spec.opt = i as u8;
            match o.kind {
                OptionKind::Flag => {}
                OptionKind::U32 => spec.type_ = Some(b::fs_param_is_u32),
                OptionKind::Choice(names) => {
                    let mut table = KVec::with_capacity(names.len() + 1, GFP_KERNEL)?;
                    for (v, n) in names.iter().enumerate() {
                        let value = kernel::ffi::c_int::try_from(v).map_err(|_| EINVAL)?;
                        table.push(b::constant_table { name: n.as_char_ptr(), value }, GFP_KERNEL)?;
                    }
                    table.push(pin_init::zeroed(), GFP_KERNEL)?;
                    spec.type_ = Some(b::fs_param_is_enum);
                    spec.data = table.as_ptr().cast();
                    // Moving the vector moves its pointer, not its buffer.
                    choices.push(table, GFP_KERNEL)?;
                }
            }
            specs.push(spec, GFP_KERNEL)?;
        }
        specs.push(pin_init::zeroed(), GFP_KERNEL)?;
        Ok(Self { specs, _choices: choices })
    }

    /// Parses `param` against the tables into `options`: `ENOPARAM` for a
    /// key that is not ours (the VFS then tries its own, such as `source`).
    ///
    /// # Safety
    ///
    /// `fc` and `param` are the valid context and parameter of a
    /// `parse_param` call of a filesystem whose options are `O`.
    pub(in crate::kfs) unsafe fn parse<O: MountOptions>(
        &self,
        fc: *mut b::fs_context,
        param: *mut b::fs_parameter,
        options: &mut O,
    ) -> Result {
        // All zero (bindgen's `Default`: its union is not `Zeroable`).
        let mut result = b::fs_parse_result::default();
        // SAFETY: `fc` and `param` are valid (caller); `specs` is a
        // terminated table that outlives the call (type invariant).
        let opt = unsafe { b::__fs_parse(&raw mut (*fc).log, self.specs.as_ptr(), param, &mut result) };
        let option = usize::try_from(opt).map_err(|_| Error::from_errno(opt))?;
        let kind = &O::OPTIONS.get(option).ok_or(EINVAL)?.kind;
        let value = match kind {
            OptionKind::Flag => OptionValue::Flag,
            // SAFETY: the parser filled the union member of the option's
            // type: `uint_32` for u32 and enum (`fs_param_is_u32/enum`).
            OptionKind::U32 => OptionValue::U32(unsafe { *result.__bindgen_anon_1.uint_32.as_ref() }),
            OptionKind::Choice(names) => {
                // SAFETY: as above; the value is the index of the name.
                let v = unsafe { *result.__bindgen_anon_1.uint_32.as_ref() } as usize;
                if v >= names.len() {
                    return Err(EINVAL);
                }
                OptionValue::Choice(v)
            }
        };
        // Through the filter every hook's result takes: an `ENOPARAM` from
        // the filesystem would make the VFS try the key as its own, an
        // `ERESTARTSYS` would reach user space as errno 512.
        options.set(option, value).hook()
    }
}
