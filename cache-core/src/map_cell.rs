//! Where a `#[ttl_cached]` function keeps its map when a static cannot name its types:
//! a method or associated function (a static cannot name `Self`), or a function with
//! `key = ...` (the key's type is inferred). A free function without `key` keeps its
//! map in a plain typed `LazyLock` static instead, and never comes here.
//!
//! The static lives in a generic accessor (a function-local `static` cannot name `Self`
//! or an inferred key type, and is one static whatever the type arguments), so it holds
//! the map type-erased, as `Box<dyn Any>`. `downcast_ref` would ask the box for its
//! `TypeId` through the vtable on every call: an indirect call that cost about 4 ns of a
//! 21 ns `&str` hit (`perf`: the hottest instruction of the memoized call). Instead the
//! `TypeId` is read once, when the map is stored, and each call compares it with the
//! type it asks for: a comparison of constants, then a pointer cast.
//!
//! This module's one `unsafe` block is that cast; it must never be reached without the
//! comparison.
#![allow(unsafe_code)]

use crate::TtlMap;
use std::any::{Any, TypeId};
use std::sync::OnceLock;

/// A map behind a type-erased `Box`, built on first use.
///
/// # Examples
///
/// ```
/// use cache_core::__private::MapCell;
/// use cache_core::TtlMap;
/// use std::any::Any;
///
/// static CELL: MapCell = MapCell::new();
/// fn init() -> Box<dyn Any + Send + Sync> {
///     Box::new(TtlMap::<u64, u64>::new())
/// }
/// let map: &'static TtlMap<u64, u64> = CELL.get(init).unwrap();
/// map.insert(1, 2);
/// assert_eq!(CELL.get::<u64, u64>(init).unwrap().get(&1), Some(2));
/// assert!(CELL.get::<u64, String>(init).is_none());
/// ```
pub struct MapCell {
    stored: OnceLock<StoredMap>,
}

struct StoredMap {
    /// The `TypeId` of the value in `map`, read when it was stored.
    type_id: TypeId,
    map: Box<dyn Any + Send + Sync>,
}

impl MapCell {
    /// An empty cell, for a `static`.
    #[allow(clippy::new_without_default)] // only ever a `static`: `const fn` is the point
    pub const fn new() -> Self {
        MapCell {
            stored: OnceLock::new(),
        }
    }

    /// The map, built by `init` on first use; `None` if it is not a `TtlMap<K, V>`.
    #[inline]
    pub fn get<K: 'static, V: 'static>(
        &'static self,
        init: fn() -> Box<dyn Any + Send + Sync>,
    ) -> Option<&'static TtlMap<K, V>> {
        let stored = self.stored.get_or_init(|| {
            let map = init();
            // The boxed value's type (a plain `map.type_id()` would be the `Box`'s).
            let type_id = Any::type_id(&*map);
            StoredMap { type_id, map }
        });
        if stored.type_id != TypeId::of::<TtlMap<K, V>>() {
            return None;
        }
        let erased: *const (dyn Any + Send + Sync) = &*stored.map;
        // SAFETY: `type_id` was read from this very box's value when it was stored, and
        // a `OnceLock` never replaces or drops what it holds while it lives (here: for
        // the program, a `static`): so the box holds a `TtlMap<K, V>`, and its data
        // pointer, the thin part of `erased`, points to one for `'static`.
        Some(unsafe { &*erased.cast::<TtlMap<K, V>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_map() -> Box<dyn Any + Send + Sync> {
        Box::new(TtlMap::<String, u32>::new())
    }

    #[test]
    fn the_map_is_built_once_and_shared() {
        static CELL: MapCell = MapCell::new();
        let first = CELL.get::<String, u32>(new_map).unwrap();
        first.insert("a".to_owned(), 1);
        let again = CELL.get::<String, u32>(new_map).unwrap();
        assert!(std::ptr::eq(first, again));
        assert_eq!(again.get("a"), Some(1));
    }

    #[test]
    fn other_types_get_nothing() {
        static CELL: MapCell = MapCell::new();
        assert!(CELL.get::<String, u32>(new_map).is_some());
        assert!(CELL.get::<String, u64>(new_map).is_none());
        assert!(CELL.get::<u32, u32>(new_map).is_none());
    }

    #[test]
    fn the_first_caller_types_the_cell() {
        static CELL: MapCell = MapCell::new();
        // Asked with other types first: built anyway, and refused.
        assert!(CELL.get::<u8, u8>(new_map).is_none());
        assert!(CELL.get::<String, u32>(new_map).is_some());
    }
}
