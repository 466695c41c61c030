//! Splitting pack compilation over the machine's cores, with scoped threads.
//!
//! Loading a large pack is a few passes over many independent items (files,
//! texts, examples); each pass is cut into one contiguous chunk per core and the
//! results come back in input order, so the output is the same on any machine.

use std::num::NonZeroUsize;

/// Below this many items per chunk a pass stays on one thread: spawning costs
/// more than it saves (the default pack loads in tens of milliseconds).
const MIN_CHUNK: usize = 2_048;

/// How many threads a pass over `n` items of `weight` work units each gets.
fn threads_for(n: usize, weight: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    (n.saturating_mul(weight.max(1)) / MIN_CHUNK).clamp(1, cores)
}

/// `f` over each chunk of `items`, chunks in parallel; results in chunk order.
/// `weight` says how much work one item is, relative to analysing a short text.
pub(crate) fn chunks<T: Sync, R: Send>(
    items: &[T],
    weight: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let threads = threads_for(items.len(), weight);
    if threads <= 1 {
        return vec![f(items)];
    }
    let size = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(size)
            .map(|chunk| scope.spawn(move || f(chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// `f` over each item, in parallel chunks; results in input order.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    weight: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    chunks(items, weight, |chunk| {
        chunk.iter().map(&f).collect::<Vec<R>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_input_order() {
        let items: Vec<u32> = (0..100_000).collect();
        let doubled = map(&items, 1, |x| x * 2);
        assert_eq!(doubled, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        let sums = chunks(&items, 1, |c| c.iter().map(|&x| u64::from(x)).sum::<u64>());
        assert_eq!(
            sums.iter().sum::<u64>(),
            items.iter().map(|&x| u64::from(x)).sum::<u64>()
        );
        assert!(map(&[] as &[u32], 1, |x| *x).is_empty());
    }
}
