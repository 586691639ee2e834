//! Memory per key of a keyed layer: the heap a layer holds after its first request for each
//! of 10,000 keys (each with a 1,000-byte token, as Symbl's JWTs are), divided by the keys.
//! The token source is a zero-sized one: a real source adds its own size (a
//! `SymblTokenSource` holds its credentials and URL, and shares the default client).
//!
//! `cargo bench --bench keyed_memory`. Figures: BENCHMARKS.md.

mod common;

use std::alloc::System;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use symbl_auth::{CredentialKey, SymblAuthLayer};
use tower::{Layer, ServiceExt};

use common::{empty_post, FixedSource, Noop};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const KEYS: usize = 10_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    let layer = SymblAuthLayer::keyed(|_: &CredentialKey| FixedSource)
        .allow_host("api.symbl.ai")
        .max_keys(KEYS)
        .build()
        .expect("layer");
    let service = layer.layer(Noop);
    // Keys made beforehand: the caller's, not the layer's (the layer keeps a clone, which
    // shares the string).
    let keys: Vec<CredentialKey> = (0..KEYS)
        .map(|n| CredentialKey::new(format!("tenant-{n:05}")))
        .collect();
    let region = Region::new(ALLOCATOR);
    runtime.block_on(async {
        for key in &keys {
            let mut request = empty_post();
            request.extensions_mut().insert(key.clone());
            service.clone().oneshot(request).await.expect("ok");
        }
    });
    let change = region.change();
    assert_eq!(layer.cached_keys(), KEYS);
    let held = change.bytes_allocated as i64 - change.bytes_deallocated as i64
        + change.bytes_reallocated as i64;
    println!(
        "{KEYS} keys: {held} bytes held, {} bytes per key ({} allocations and {} frees in all)",
        held / KEYS as i64,
        change.allocations,
        change.deallocations
    );
    // The keys' strings too, if the layer had to keep them alone.
    let string = std::mem::size_of::<usize>() * 2 + "tenant-00000".len();
    println!("plus the key itself if only the layer holds it: {string} bytes");
}
