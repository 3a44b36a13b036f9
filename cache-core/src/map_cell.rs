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
//!
//! A generic function has one map per instantiation of its type parameters, and a
//! `static` in it is one whatever they are: there its map lives in a [`TypeMaps`], a
//! registry of [`MapCell`]s keyed by the `TypeId` of the tuple of the type parameters.
#![allow(unsafe_code)]

use crate::TtlMap;
use std::any::{Any, TypeId};
use std::sync::{Mutex, OnceLock, RwLock};

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

/// The [`MapCell`]s of a generic function, one per instantiation of its type parameters
/// (`P`, a tuple of them), for a `static` in the function.
///
/// The first [`TypeMaps::FAST`] instantiations are found without a lock: each is a
/// `OnceLock` read and a `TypeId` comparison, so the hit of a generic function costs a
/// non-generic one's plus a few of those. Further instantiations, rare, are found under
/// a read lock.
///
/// # Examples
///
/// ```
/// use cache_core::__private::TypeMaps;
/// use cache_core::TtlMap;
/// use std::any::Any;
///
/// static MAPS: TypeMaps = TypeMaps::new();
/// fn init() -> Box<dyn Any + Send + Sync> {
///     Box::new(TtlMap::<u64, u64>::new())
/// }
/// // One map per type-parameter tuple, even for the same key and value types.
/// MAPS.get::<(u8,), u64, u64>(init).unwrap().insert(1, 8);
/// MAPS.get::<(u16,), u64, u64>(init).unwrap().insert(1, 16);
/// assert_eq!(MAPS.get::<(u8,), u64, u64>(init).unwrap().get(&1), Some(8));
/// assert_eq!(MAPS.get::<(u16,), u64, u64>(init).unwrap().get(&1), Some(16));
/// ```
pub struct TypeMaps {
    /// Filled in order, under `insert`; read without a lock.
    fast: [OnceLock<&'static Slot>; TypeMaps::FAST],
    /// The instantiations after the first `FAST`.
    overflow: RwLock<Vec<&'static Slot>>,
    /// Serializes registrations, so that one type tuple gets one slot.
    insert: Mutex<()>,
}

/// One instantiation's map. Leaked: like the `static` it belongs to, it lives as long
/// as the program, and `MapCell::get` hands out `&'static` references into it.
struct Slot {
    params: TypeId,
    cell: MapCell,
}

impl TypeMaps {
    /// How many instantiations are found without a lock.
    pub const FAST: usize = 8;

    /// An empty registry, for a `static`.
    #[allow(clippy::new_without_default)] // only ever a `static`: `const fn` is the point
    pub const fn new() -> Self {
        TypeMaps {
            fast: [const { OnceLock::new() }; TypeMaps::FAST],
            overflow: RwLock::new(Vec::new()),
            insert: Mutex::new(()),
        }
    }

    /// The map of the instantiation `P`, built by `init` on first use; `None` if it is
    /// not a `TtlMap<K, V>`.
    #[inline]
    pub fn get<P: ?Sized + 'static, K: 'static, V: 'static>(
        &'static self,
        init: fn() -> Box<dyn Any + Send + Sync>,
    ) -> Option<&'static TtlMap<K, V>> {
        let params = TypeId::of::<P>();
        for slot in &self.fast {
            match slot.get() {
                Some(slot) if slot.params == params => return slot.cell.get(init),
                Some(_) => {}
                // Filled in order: `P` is in no later slot, nor in `overflow`.
                None => return self.register(params).cell.get(init),
            }
        }
        let found = read(&self.overflow)
            .iter()
            .copied()
            .find(|slot| slot.params == params);
        found
            .unwrap_or_else(|| self.register(params))
            .cell
            .get(init)
    }

    /// The slot of `params`, registered if no other thread did it first.
    #[cold]
    fn register(&'static self, params: TypeId) -> &'static Slot {
        // Nothing runs user code under this lock: a poisoned one is still consistent.
        let _registering = self
            .insert
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let registered = self
            .fast
            .iter()
            .filter_map(OnceLock::get)
            .chain(read(&self.overflow).iter())
            .copied()
            .find(|slot| slot.params == params);
        if let Some(slot) = registered {
            return slot;
        }
        let slot: &'static Slot = Box::leak(Box::new(Slot {
            params,
            cell: MapCell::new(),
        }));
        match self.fast.iter().find(|cell| cell.get().is_none()) {
            Some(free) => {
                let _ = free.set(slot);
            }
            None => self
                .overflow
                .write()
                .unwrap_or_else(|poison| poison.into_inner())
                .push(slot),
        }
        slot
    }
}

/// A read guard of the overflow list (never poisoned in a harmful way: no user code
/// runs under it).
fn read<'a>(
    overflow: &'a RwLock<Vec<&'static Slot>>,
) -> std::sync::RwLockReadGuard<'a, Vec<&'static Slot>> {
    overflow.read().unwrap_or_else(|poison| poison.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_tuple_has_its_own_map_past_the_fast_slots() {
        static MAPS: TypeMaps = TypeMaps::new();
        fn with<P: 'static>(value: u64) {
            let map = MAPS.get::<P, u8, u64>(new_u8_map).unwrap();
            map.insert(0, value);
        }
        fn read<P: 'static>() -> Option<u64> {
            MAPS.get::<P, u8, u64>(new_u8_map).unwrap().get(&0)
        }
        fn new_u8_map() -> Box<dyn Any + Send + Sync> {
            Box::new(TtlMap::<u8, u64>::new())
        }
        // More instantiations than fast slots.
        with::<(u8,)>(1);
        with::<(u16,)>(2);
        with::<(u32,)>(3);
        with::<(u64,)>(4);
        with::<(i8,)>(5);
        with::<(i16,)>(6);
        with::<(i32,)>(7);
        with::<(i64,)>(8);
        with::<(u8, u8)>(9);
        with::<(String,)>(10);
        assert_eq!(read::<(u8,)>(), Some(1));
        assert_eq!(read::<(i64,)>(), Some(8));
        assert_eq!(read::<(u8, u8)>(), Some(9));
        assert_eq!(read::<(String,)>(), Some(10));
        assert!(MAPS.get::<(String,), u8, u32>(new_u8_map).is_none());
    }

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
