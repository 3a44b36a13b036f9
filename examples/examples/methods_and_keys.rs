//! `#[ttl_cached]` on methods, with `key = ...`, in a trait impl, and on a generic
//! function.
//!
//! ```text
//! cargo run -p cache-examples --example methods_and_keys
//! ```
//!
//! A method's cache is one static shared by every instance, so the key says which
//! part of `self` a result depends on. Here a price catalog serves several tenants:
//! prices depend on the tenant and the product, not on which `Catalog` value asks.

use cache_core::{ttl_cached, ttl_cached_impl};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many times a price was computed, to show hits and misses.
static PRICE_LOOKUPS: AtomicUsize = AtomicUsize::new(0);

/// A tenant's view of the product catalog.
struct Catalog {
    tenant: String,
    /// The tenant's discount, in percent.
    discount: u64,
}

impl Catalog {
    fn new(tenant: &str, discount: u64) -> Self {
        Catalog {
            tenant: tenant.to_owned(),
            discount,
        }
    }

    /// The price of `sku` for this tenant, in cents. Unknown products are an error,
    /// and errors are not cached: a product added later is found at once.
    #[ttl_cached(secs = 60, key = (self.tenant.clone(), sku.to_owned()))]
    fn price(&self, sku: &str) -> Result<u64, String> {
        PRICE_LOOKUPS.fetch_add(1, Ordering::SeqCst);
        let list_price = match sku {
            "coffee" => 450,
            "tea" => 300,
            _ => return Err(format!("no such product: {sku}")),
        };
        Ok(list_price * (100 - self.discount) / 100)
    }

    /// A page of the catalog. The request id is for logging only, so it is left out
    /// of the key: every request for the same page shares one entry.
    #[ttl_cached(secs = 60, key = (self.tenant.clone(), page))]
    fn page(&self, page: u32, request_id: u64) -> String {
        println!(
            "    (rendering page {page} for {}, request {request_id})",
            self.tenant
        );
        format!("{}: page {page}", self.tenant)
    }
}

/// Where prices come from, as the rest of the program sees it.
trait PriceSource {
    fn list_price(&self, sku: &str) -> Option<u64>;
}

/// A trait impl: `#[ttl_cached_impl]` on the block puts the helpers in `impl Catalog`.
#[ttl_cached_impl]
impl PriceSource for Catalog {
    #[ttl_cached(secs = 60, key = sku.to_owned())]
    fn list_price(&self, sku: &str) -> Option<u64> {
        println!("    (looking up the list price of {sku})");
        match sku {
            "coffee" => Some(450),
            _ => None,
        }
    }
}

/// A generic function: one map per type it is used with.
#[ttl_cached(secs = 60)]
fn parse_setting<T: FromStr + Clone + Send + Sync + 'static>(text: &str) -> Option<T> {
    text.parse().ok()
}

fn lookups() -> usize {
    PRICE_LOOKUPS.load(Ordering::SeqCst)
}

fn main() {
    let acme = Catalog::new("acme", 10);
    println!("1. acme asks for coffee twice: computed once.");
    println!("   {:?}, {:?}", acme.price("coffee"), acme.price("coffee"));
    println!("   computed {} time(s)", lookups());

    println!("\n2. Another Catalog value for the same tenant shares the entry:");
    let acme_again = Catalog::new("acme", 10);
    println!(
        "   {:?}, computed {} time(s)",
        acme_again.price("coffee"),
        lookups()
    );

    println!("\n3. Another tenant is another key:");
    let globex = Catalog::new("globex", 0);
    println!(
        "   {:?}, computed {} time(s)",
        globex.price("coffee"),
        lookups()
    );

    println!("\n4. Errors are not cached (only `Ok` is, unless `cache_err = true`):");
    println!("   {:?}", acme.price("cake"));
    println!(
        "   {:?}, computed {} time(s)",
        acme.price("cake"),
        lookups()
    );

    println!("\n5. The key leaves the request id out, so only the first request renders:");
    println!("   {}", acme.page(1, 1001));
    println!("   {}", acme.page(1, 1002));

    println!("\n6. Helpers take the receiver when they need arguments, and none otherwise:");
    println!(
        "   acme.price_invalidate(\"coffee\") = {}",
        acme.price_invalidate("coffee")
    );
    println!(
        "   acme.price_refresh(\"tea\")        = {:?}",
        acme.price_refresh("tea")
    );
    let stats = Catalog::price_cache().stats();
    println!(
        "   Catalog::price_cache(): {} entries, {} hits, {} misses",
        Catalog::price_cache().len(),
        stats.hits,
        stats.misses
    );
    Catalog::price_clear();
    println!(
        "   after Catalog::price_clear(): {} entries",
        Catalog::price_cache().len()
    );

    println!("\n7. A method of a trait impl, cached; its helpers are `Catalog`'s:");
    println!("   {:?}", acme.list_price("coffee"));
    println!("   {:?}", acme.list_price("coffee"));
    println!(
        "   Catalog::list_price_cache(): {} computation(s)",
        Catalog::list_price_cache().stats().computations
    );

    println!("\n8. A generic function keeps one map per type:");
    println!(
        "   parse_setting::<u16>(\"80\") = {:?}",
        parse_setting::<u16>("80")
    );
    println!(
        "   parse_setting::<f32>(\"80\") = {:?}",
        parse_setting::<f32>("80")
    );
    println!(
        "   entries: u16 {}, f32 {}",
        parse_setting_cache::<u16>().len(),
        parse_setting_cache::<f32>().len()
    );
}
