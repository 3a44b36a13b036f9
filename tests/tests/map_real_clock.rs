//! Expiry on the real clock is exact: a lookup never returns an entry after its
//! deadline, and never misses it before. (Lookups use a cheap coarse clock only for
//! entries far from their deadline.)

use cache_core::TtlMap;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_millis(30);

#[test]
fn a_lookup_is_never_late_nor_early_on_the_real_clock() {
    let map = TtlMap::with_ttl(TTL);
    for round in 0..20u32 {
        let before_insert = Instant::now();
        map.insert(round, round);
        let after_insert = Instant::now();
        // The deadline lies between these two instants.
        let (earliest_deadline, latest_deadline) = (before_insert + TTL, after_insert + TTL);
        loop {
            let before_get = Instant::now();
            let found = map.get(&round);
            let after_get = Instant::now();
            match found {
                Some(_) => assert!(
                    before_get < latest_deadline,
                    "round {round}: returned {:?} after the deadline",
                    before_get - latest_deadline
                ),
                None => {
                    assert!(
                        after_get >= earliest_deadline,
                        "round {round}: gone {:?} before the deadline",
                        earliest_deadline - after_get
                    );
                    break;
                }
            }
        }
    }
}

#[test]
fn contains_key_agrees_with_get_at_the_deadline() {
    let map = TtlMap::with_ttl(TTL);
    map.insert("k", 1);
    let deadline = Instant::now() + TTL;
    while Instant::now() < deadline + TTL {
        let before = Instant::now();
        if map.contains_key("k") {
            assert!(before < deadline, "contains_key saw an expired entry");
        }
    }
    assert!(!map.contains_key("k"));
    assert_eq!(map.get("k"), None);
}
