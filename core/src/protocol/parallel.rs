//! Spreading independent work over the machine's cores.
//!
//! Catching up on a long tail of envelopes is mostly Ed25519 verification
//! and change decoding, each independent of the others; phones have several
//! cores, and a person waiting for their group's sessions to appear should
//! not wait on one.

/// Maps `f` over `items` on up to as many threads as the machine has cores,
/// giving each thread at least `per_thread` items (below that, another
/// thread costs more than it saves); results keep the items' order.
/// `on_panic` stands in for the results of a thread that panicked, which
/// `f` must never do.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    per_thread: usize,
    f: impl Fn(&T) -> R + Sync,
    on_panic: impl Fn() -> R,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items.len() / per_thread.max(1))
        .max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let len = part.len();
                (
                    len,
                    scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()),
                )
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(len, handle)| {
                handle
                    .join()
                    .unwrap_or_else(|_| (0..len).map(|_| on_panic()).collect())
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_order_of_the_items_on_any_number_of_threads() {
        for n in [0usize, 1, 15, 16, 17, 100, 1001] {
            let items: Vec<usize> = (0..n).collect();
            let doubled = super::map(&items, 4, |i| i * 2, || usize::MAX);
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
    }
}
