//! The `Persistent` trait: which types may live in a pool, their layout fingerprint, and the
//! walk that `Pool::check()` uses to prove allocated = reachable.
//!
//! A type is `Persistent` when its bytes mean the same thing in every process that maps the
//! pool: no process addresses (`&T`, `Box`, raw pointers), no heap memory outside the pool
//! (`String`, `Vec`). Plain data, arrays, tuples, `Option` of those, the pcoll containers, and
//! structs deriving `Persistent` qualify. Allowed `unsafe`: the trait and its impls (a
//! promise about layout, no memory access).

#![allow(unsafe_code)]

use std::fmt;

use crate::error::Result;
use crate::heap::check::Visitor;
use crate::txn::core::{BuildIn, PoolCore};

/// A type whose values may be stored in a pool.
///
/// Derive it with `#[derive(Persistent)]`; the derive refuses fields that are not
/// `Persistent`, so user code never needs `unsafe`:
///
/// ```compile_fail
/// #[derive(pcoll::Persistent)]
/// struct Bad { name: String } // String points outside the pool
/// ```
/// ```compile_fail
/// #[derive(pcoll::Persistent)]
/// struct Bad { b: Box<u64> }
/// ```
/// ```compile_fail
/// #[derive(pcoll::Persistent)]
/// struct Bad<'a> { r: &'a u64 }
/// ```
/// ```compile_fail
/// #[derive(pcoll::Persistent)]
/// struct Bad { p: *const u8 }
/// ```
///
/// # Safety
///
/// Implementors promise that:
/// - the type holds no process addresses and owns no memory outside the pool, so its bytes
///   stay meaningful after the pool is unmapped and mapped again elsewhere;
/// - `layout` describes every field (name, type, offset, size) so that two types with the
///   same fingerprint have the same layout;
/// - `visit` reports every pool block the value owns, directly or through its fields;
/// - `HANDLES` is true when the value may own pool blocks; when it is false, a bitwise copy
///   of a value is an independent value (the default `copy_to` makes one);
/// - `relocate` and `copy_to` reach every handle the value holds (the derive does this by
///   calling them on every field).
pub unsafe trait Persistent: Sized + 'static {
    /// True when values of this type may own pool blocks (they hold pcoll handles).
    const HANDLES: bool = false;

    /// Writes this type's layout into `fp` (recursively for fields).
    fn layout(fp: &mut Fingerprint);

    /// Reports the pool blocks this value owns to `v` (containers and structs recurse).
    fn visit(&self, _v: &mut Visitor<'_>) {}

    /// Makes every block this value owns live in `to`'s pool: a handle whose blocks are
    /// elsewhere (the scratch memory of values outside any pool, or another pool) is replaced
    /// by a deep copy in `to`, and the original is dropped. Handles already in `to` stay as
    /// they are (a move within one pool copies nothing). On error the value is unchanged
    /// where it was not yet moved, and valid everywhere.
    fn relocate(&mut self, _to: &Relocator<'_>) -> Result<()> {
        Ok(())
    }

    /// Calls `f` with the pointer of every handle directly in this value (not those inside
    /// the blocks it owns): what a rollback compares to find handles that left or entered
    /// pool memory, and clears where a copy of a value must not drop what it names.
    #[doc(hidden)]
    fn handles(&mut self, _f: &mut dyn FnMut(&mut u64)) {}

    /// Hints the CPU to start loading the first cache line of each block this value points
    /// to directly (`PHashMap::prefetch_entry`): no read, no wait, no effect on results.
    #[doc(hidden)]
    #[inline]
    fn prefetch(&self) {}

    /// A deep copy of this value whose blocks all live in `to`'s pool.
    fn copy_to(&self, _to: &Relocator<'_>) -> Result<Self> {
        debug_assert!(!Self::HANDLES, "a type with handles must implement copy_to");
        // SAFETY: without handles a value owns nothing, so a bitwise copy is an independent
        // value (trait contract).
        Ok(unsafe { std::ptr::read(self) })
    }
}

/// The pool a value is being moved into (see [`Persistent::relocate`]). While it lives,
/// new handles outside pool memory are built in that pool.
pub struct Relocator<'a> {
    pub(crate) core: &'a PoolCore,
    /// A container hands the value out: a handle of a pool whose write transaction is open
    /// on this thread is lent (`collections/lent.rs`) instead of copied into `core`.
    pub(crate) lends: bool,
    _build: BuildIn,
}

impl<'a> Relocator<'a> {
    pub(crate) fn new(core: &'a PoolCore) -> Self {
        Relocator {
            core,
            lends: false,
            _build: BuildIn::new(core),
        }
    }

    /// For a value a container hands out: lent where it can be, else copied into `core`
    /// (the scratch pool).
    pub(crate) fn lending(core: &'a PoolCore) -> Self {
        Relocator {
            lends: true,
            ..Relocator::new(core)
        }
    }

    /// True when a handle with pointer tag `tag` already lives in the target pool.
    #[inline]
    pub(crate) fn holds(&self, tag: u16) -> bool {
        tag == self.core.tag
    }
}

impl fmt::Debug for Relocator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relocator")
            .field("tag", &self.core.tag)
            .finish()
    }
}

/// A 64-bit fingerprint of a type's layout: names, sizes, alignments, field offsets,
/// recursively, plus the pool format version. Stored in the pool header and compared on open.
/// The same walk can also record the layout as JSON ([`Fingerprint::schema_of`]), which the
/// pool stores beside the root for tools that read it without the Rust type.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    hash: u64,
    depth: u32,
    schema: Option<Box<crate::schema::Builder>>,
}

/// Nesting deeper than this is cut off (a type may contain itself through a container).
const MAX_DEPTH: u32 = 16;

impl Fingerprint {
    /// An empty fingerprint seeded with the pool format version.
    ///
    /// ```
    /// use pcoll::{Fingerprint, Persistent};
    ///
    /// let mut fp = Fingerprint::new();
    /// u64::layout(&mut fp);
    /// assert_eq!(fp.finish(), Fingerprint::of::<u64>());
    /// ```
    pub fn new() -> Self {
        let mut fp = Fingerprint {
            hash: 0xcbf2_9ce4_8422_2325,
            depth: 0,
            schema: None,
        };
        fp.mix_u64(u64::from(crate::heap::header::FORMAT_VERSION));
        fp
    }

    /// The fingerprint of `T`.
    ///
    /// ```
    /// use pcoll::Fingerprint;
    ///
    /// #[derive(pcoll::Persistent)]
    /// struct A { x: u32, y: u32 }
    /// #[derive(pcoll::Persistent)]
    /// struct B { x: u32, y: u64 }
    ///
    /// assert_eq!(Fingerprint::of::<A>(), Fingerprint::of::<A>());
    /// assert_ne!(Fingerprint::of::<A>(), Fingerprint::of::<B>());
    /// assert_ne!(Fingerprint::of::<u64>(), Fingerprint::of::<i64>());
    /// ```
    pub fn of<T: Persistent>() -> u64 {
        let mut fp = Fingerprint::new();
        T::layout(&mut fp);
        fp.finish()
    }

    /// The layout of `T` as JSON (the format is described in `docs/format.md`, "Schema").
    ///
    /// ```
    /// #[derive(pcoll::Persistent, Default)]
    /// struct Root { n: u64 }
    /// let s = pcoll::Fingerprint::schema_of::<Root>();
    /// assert!(s.starts_with(r#"{"type":"Root","size":8,"align":8,"items":[{"field":"n""#));
    /// ```
    pub fn schema_of<T: Persistent>() -> String {
        let mut fp = Fingerprint::new();
        fp.schema = Some(Box::default());
        T::layout(&mut fp);
        let b = fp.schema.expect("set above");
        b.finish().unwrap_or("null").to_owned()
    }

    /// Mixes raw bytes in (FNV-1a). Not part of the schema.
    ///
    /// ```
    /// use pcoll::Fingerprint;
    ///
    /// let mut a = Fingerprint::new();
    /// a.write_bytes(b"v2");
    /// let mut b = Fingerprint::new();
    /// b.write_bytes(b"v2");
    /// assert_eq!(a.finish(), b.finish());
    /// b.write_bytes(b"!");
    /// assert_ne!(a.finish(), b.finish());
    /// ```
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn mix_u64(&mut self, v: u64) {
        self.write_bytes(&v.to_le_bytes());
    }

    fn mix_str(&mut self, s: &str) {
        self.mix_u64(s.len() as u64);
        self.write_bytes(s.as_bytes());
    }

    /// Mixes a length-prefixed string in (an enum variant's name, for instance).
    ///
    /// ```
    /// use pcoll::Fingerprint;
    ///
    /// #[derive(pcoll::Persistent)]
    /// #[repr(u8)]
    /// enum Color { Red = 1, Green = 2 }
    ///
    /// // What the derive writes for `Color`: each variant's name and discriminant.
    /// let mut fp = Fingerprint::new();
    /// if fp.begin_struct("Color", 1, 1) {
    ///     fp.write_str("Red");
    ///     fp.write_u64(1);
    ///     fp.write_str("Green");
    ///     fp.write_u64(2);
    /// }
    /// fp.end_struct();
    /// assert_eq!(fp.finish(), Fingerprint::of::<Color>());
    /// ```
    pub fn write_str(&mut self, s: &str) {
        self.mix_str(s);
        if let Some(b) = &mut self.schema {
            b.str(s);
        }
    }

    /// Mixes an integer in (an array's length, a discriminant).
    ///
    /// ```
    /// use pcoll::{Fingerprint, Persistent};
    ///
    /// // What `[u8; 4]` writes: its length, then its element type.
    /// let mut fp = Fingerprint::new();
    /// if fp.begin_struct("array", 4, 1) {
    ///     fp.write_u64(4);
    ///     u8::layout(&mut fp);
    /// }
    /// fp.end_struct();
    /// assert_eq!(fp.finish(), Fingerprint::of::<[u8; 4]>());
    /// ```
    pub fn write_u64(&mut self, v: u64) {
        self.mix_u64(v);
        if let Some(b) = &mut self.schema {
            b.int(v);
        }
    }

    /// Describes a leaf type by name, size and alignment.
    ///
    /// ```
    /// use pcoll::Fingerprint;
    ///
    /// let mut fp = Fingerprint::new();
    /// fp.primitive("u64", 8, 8);
    /// assert_eq!(fp.finish(), Fingerprint::of::<u64>());
    /// ```
    pub fn primitive(&mut self, name: &str, size: usize, align: usize) {
        self.mix_leaf(name, size, align);
        if let Some(b) = &mut self.schema {
            b.primitive(name, size, align);
        }
    }

    fn mix_leaf(&mut self, name: &str, size: usize, align: usize) {
        self.mix_str(name);
        self.mix_u64(size as u64);
        self.mix_u64(align as u64);
    }

    /// Opens a compound type; pair with [`Fingerprint::end_struct`]. Returns false when the
    /// nesting limit is reached: the caller then skips its fields.
    ///
    /// ```
    /// use pcoll::Fingerprint;
    /// use std::mem::{align_of, offset_of, size_of};
    ///
    /// #[derive(pcoll::Persistent)]
    /// struct Point { x: u32, y: u32 }
    ///
    /// // What the derive writes for `Point`.
    /// let mut fp = Fingerprint::new();
    /// if fp.begin_struct("Point", size_of::<Point>(), align_of::<Point>()) {
    ///     fp.field::<u32>("x", offset_of!(Point, x));
    ///     fp.field::<u32>("y", offset_of!(Point, y));
    /// }
    /// fp.end_struct();
    /// assert_eq!(fp.finish(), Fingerprint::of::<Point>());
    /// ```
    pub fn begin_struct(&mut self, name: &str, size: usize, align: usize) -> bool {
        self.mix_str("{");
        self.mix_leaf(name, size, align);
        self.depth += 1;
        let open = self.depth <= MAX_DEPTH;
        if let Some(b) = &mut self.schema {
            b.begin(name, size, align, !open);
        }
        open
    }

    /// Describes one field: its name, offset, and (recursively) its type.
    ///
    /// ```
    /// use pcoll::Fingerprint;
    ///
    /// #[derive(pcoll::Persistent)]
    /// struct Old { n: u32 }
    ///
    /// let of = |field: fn(&mut Fingerprint)| {
    ///     let mut fp = Fingerprint::new();
    ///     if fp.begin_struct("Old", 4, 4) {
    ///         field(&mut fp);
    ///     }
    ///     fp.end_struct();
    ///     fp.finish()
    /// };
    /// assert_eq!(of(|fp| fp.field::<u32>("n", 0)), Fingerprint::of::<Old>());
    /// assert_ne!(of(|fp| fp.field::<u64>("n", 0)), Fingerprint::of::<Old>()); // another type
    /// ```
    pub fn field<T: Persistent>(&mut self, name: &str, offset: usize) {
        self.mix_str(name);
        self.mix_u64(offset as u64);
        if let Some(b) = &mut self.schema {
            b.field(name, offset);
        }
        T::layout(self);
    }

    /// Closes a compound type.
    ///
    /// ```
    /// use pcoll::Fingerprint;
    ///
    /// #[derive(pcoll::Persistent)]
    /// struct Id(u16);
    ///
    /// // What the derive writes for `Id`: one `u16` field, named `0`, at offset 0.
    /// let mut fp = Fingerprint::new();
    /// if fp.begin_struct("Id", 2, 2) {
    ///     fp.field::<u16>("0", 0);
    /// }
    /// fp.end_struct();
    /// assert_eq!(fp.finish(), Fingerprint::of::<Id>());
    /// ```
    pub fn end_struct(&mut self) {
        self.depth -= 1;
        self.mix_str("}");
        if let Some(b) = &mut self.schema {
            b.end();
        }
    }

    /// The 64-bit result.
    ///
    /// ```
    /// use pcoll::{Fingerprint, Persistent};
    ///
    /// let mut fp = Fingerprint::new();
    /// <(u32, u64)>::layout(&mut fp);
    /// assert_eq!(fp.finish(), Fingerprint::of::<(u32, u64)>());
    /// assert_eq!(fp.finish(), fp.finish()); // it does not consume or change the fingerprint
    /// ```
    pub fn finish(&self) -> u64 {
        self.hash
    }
}

impl Default for Fingerprint {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! plain {
    ($($t:ty),*) => {$(
        // SAFETY: plain data: no addresses, owns nothing, one leaf in the layout.
        unsafe impl Persistent for $t {
            fn layout(fp: &mut Fingerprint) {
                fp.primitive(stringify!($t), size_of::<$t>(), align_of::<$t>());
            }
        }
    )*};
}
plain!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    ()
);

// SAFETY: plain data, one leaf in the layout; `visit` reads its byte as an integer.
unsafe impl Persistent for bool {
    fn layout(fp: &mut Fingerprint) {
        fp.primitive("bool", 1, 1);
    }
    /// For `check()`: a byte other than 0 or 1 (a damaged pool) is reported, read as an
    /// integer, never as a `bool`.
    fn visit(&self, v: &mut Visitor<'_>) {
        let b: u8 = repr_bits(self);
        if b > 1 {
            v.problem(format!("a bool holds the byte {b:#04x}"));
        }
    }
}

// SAFETY: plain data, one leaf in the layout; `visit` reads its bits as an integer.
unsafe impl Persistent for char {
    fn layout(fp: &mut Fingerprint) {
        fp.primitive("char", 4, 4);
    }
    /// For `check()`: a value that is not a Unicode scalar value is reported.
    fn visit(&self, v: &mut Visitor<'_>) {
        let c: u32 = repr_bits(self);
        if char::from_u32(c).is_none() {
            v.problem(format!("a char holds {c:#x}, not a Unicode scalar value"));
        }
    }
}

/// Integer types every bit pattern of which is a value (what [`repr_bits`] may read).
#[doc(hidden)]
pub trait ReprInt: Copy + 'static {}
impl ReprInt for u8 {}
impl ReprInt for u16 {}
impl ReprInt for u32 {}
impl ReprInt for u64 {}
impl ReprInt for i8 {}
impl ReprInt for i16 {}
impl ReprInt for i32 {}
impl ReprInt for i64 {}

/// The bits of `x` as the integer `R` of the same size: how `check()` reads a `bool`, a
/// `char` or a derived enum's discriminant from the pool without reading an invalid value
/// as its type. (Used by the derive.)
///
/// # Panics
/// If `T` and `R` differ in size.
#[doc(hidden)]
pub fn repr_bits<T, R: ReprInt>(x: &T) -> R {
    assert_eq!(size_of::<T>(), size_of::<R>(), "repr_bits: sizes differ");
    // SAFETY: `x` is a valid reference to size_of::<R>() initialised bytes (the types the
    // callers pass, bool, char and fieldless repr(int) enums, have no padding), and every
    // bit pattern is an R.
    unsafe { (x as *const T).cast::<R>().read_unaligned() }
}

// SAFETY: an array of Persistent elements; layout names the element type and the length,
// visit reports every element's blocks.
unsafe impl<T: Persistent, const N: usize> Persistent for [T; N] {
    fn layout(fp: &mut Fingerprint) {
        if fp.begin_struct("array", size_of::<Self>(), align_of::<Self>()) {
            fp.write_u64(N as u64);
            T::layout(fp);
        }
        fp.end_struct();
    }
    const HANDLES: bool = T::HANDLES;
    fn visit(&self, v: &mut Visitor<'_>) {
        self.iter().for_each(|x| x.visit(v));
    }
    fn relocate(&mut self, to: &Relocator<'_>) -> Result<()> {
        self.iter_mut().try_for_each(|x| x.relocate(to))
    }
    fn handles(&mut self, f: &mut dyn FnMut(&mut u64)) {
        self.iter_mut().for_each(|x| x.handles(f));
    }
    fn copy_to(&self, to: &Relocator<'_>) -> Result<Self> {
        let v: Vec<T> = self.iter().map(|x| x.copy_to(to)).collect::<Result<_>>()?;
        Ok(v.try_into().unwrap_or_else(|_| unreachable!("N elements")))
    }
}

// SAFETY: Option of a Persistent type holds either nothing or a Persistent value; the size
// in the layout captures whether a niche is used.
unsafe impl<T: Persistent> Persistent for Option<T> {
    fn layout(fp: &mut Fingerprint) {
        if fp.begin_struct("Option", size_of::<Self>(), align_of::<Self>()) {
            T::layout(fp);
        }
        fp.end_struct();
    }
    const HANDLES: bool = T::HANDLES;
    fn visit(&self, v: &mut Visitor<'_>) {
        if let Some(x) = self {
            x.visit(v);
        }
    }
    fn relocate(&mut self, to: &Relocator<'_>) -> Result<()> {
        self.as_mut().map_or(Ok(()), |x| x.relocate(to))
    }
    fn handles(&mut self, f: &mut dyn FnMut(&mut u64)) {
        if let Some(x) = self {
            x.handles(f);
        }
    }
    fn copy_to(&self, to: &Relocator<'_>) -> Result<Self> {
        self.as_ref().map(|x| x.copy_to(to)).transpose()
    }
}

macro_rules! tuple {
    ($(($($n:tt $t:ident),+))*) => {$(
        // SAFETY: a tuple of Persistent fields; layout lists each field with its offset.
        unsafe impl<$($t: Persistent),+> Persistent for ($($t,)+) {
            fn layout(fp: &mut Fingerprint) {
                if fp.begin_struct("tuple", size_of::<Self>(), align_of::<Self>()) {
                    $(fp.field::<$t>(stringify!($n), core::mem::offset_of!(Self, $n));)+
                }
                fp.end_struct();
            }
            const HANDLES: bool = false $(|| $t::HANDLES)+;
            fn visit(&self, v: &mut Visitor<'_>) {
                $(self.$n.visit(v);)+
            }
            fn relocate(&mut self, to: &Relocator<'_>) -> Result<()> {
                $(self.$n.relocate(to)?;)+
                Ok(())
            }
            fn handles(&mut self, f: &mut dyn FnMut(&mut u64)) {
                $(self.$n.handles(f);)+
            }
            fn copy_to(&self, to: &Relocator<'_>) -> Result<Self> {
                Ok(($(self.$n.copy_to(to)?,)+))
            }
        }
    )*};
}
tuple! {
    (0 A)
    (0 A, 1 B)
    (0 A, 1 B, 2 C)
    (0 A, 1 B, 2 C, 3 D)
    (0 A, 1 B, 2 C, 3 D, 4 E)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_types_apart() {
        assert_ne!(Fingerprint::of::<u64>(), Fingerprint::of::<i64>());
        assert_ne!(
            Fingerprint::of::<(u32, u64)>(),
            Fingerprint::of::<(u64, u32)>()
        );
        assert_ne!(Fingerprint::of::<[u8; 4]>(), Fingerprint::of::<[u8; 5]>());
        assert_eq!(
            Fingerprint::of::<Option<u64>>(),
            Fingerprint::of::<Option<u64>>()
        );
    }

    #[test]
    fn fingerprints_are_those_of_format_1() {
        // Pools made before the schema was recorded must keep opening.
        assert_eq!(Fingerprint::of::<u64>(), FP_U64);
        assert_eq!(Fingerprint::of::<(u32, [u8; 3])>(), FP_TUPLE);
    }

    const FP_U64: u64 = 14451820648859680604;
    const FP_TUPLE: u64 = 10585032975357406509;

    #[test]
    fn schemas_are_json_of_the_layout() {
        assert_eq!(
            Fingerprint::schema_of::<(u32, [u8; 2])>(),
            r#"{"type":"tuple","size":8,"align":4,"items":[{"field":"0","offset":0,"node":{"prim":"u32","size":4,"align":4}},{"field":"1","offset":4,"node":{"type":"array","size":2,"align":1,"items":[{"int":2},{"prim":"u8","size":1,"align":1}]}}]}"#
        );
    }
}
