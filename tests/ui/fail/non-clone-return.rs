use cache_core::ttl_cached;

struct Report {
    lines: Vec<String>,
}

#[ttl_cached(secs = 5)]
fn report(id: u64) -> Report {
    Report { lines: vec![id.to_string()] }
}

fn main() {
    report(1);
    report_refresh(1);
}
