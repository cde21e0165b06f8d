//! A pool of things a case holds one at a time (a vpcd reader, a device under test): a case
//! takes one, waiting while none is free, and gives it back when its guard drops, so no two
//! cases ever share one and none is lost when a case panics.

use std::ops::Deref;
use std::sync::{Condvar, Mutex};

pub struct Pool<T> {
    free: Mutex<Vec<T>>,
    returned: Condvar,
}

impl<T> Pool<T> {
    pub fn new(items: Vec<T>) -> Self {
        Pool {
            free: Mutex::new(items),
            returned: Condvar::new(),
        }
    }

    /// Waits for a free item; `None` only when the pool's lock is poisoned.
    pub fn take(&self) -> Option<Taken<'_, T>> {
        let mut free = self.free.lock().ok()?;
        loop {
            if let Some(item) = free.pop() {
                return Some(Taken {
                    pool: self,
                    item: Some(item),
                });
            }
            free = self.returned.wait(free).ok()?;
        }
    }

    /// Returns an item [`Taken::detach`] took out.
    pub fn put_back(&self, item: T) {
        if let Ok(mut free) = self.free.lock() {
            free.push(item);
            self.returned.notify_one();
        }
    }

    /// Items free now.
    #[cfg(test)]
    pub fn free(&self) -> usize {
        self.free.lock().map(|f| f.len()).unwrap_or(0)
    }
}

/// An item taken from a [`Pool`]; back in the pool when this drops.
pub struct Taken<'a, T> {
    pool: &'a Pool<T>,
    item: Option<T>,
}

impl<T> Deref for Taken<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // Present from `take` until `drop`.
        self.item
            .as_ref()
            .expect("a taken item is held until dropped")
    }
}

impl<T> Taken<'_, T> {
    /// Takes the item out for longer than the holder's life (a vpcd reader healed in the
    /// background after its case); it comes back with [`Pool::put_back`].
    pub fn detach(mut self) -> T {
        self.item
            .take()
            .expect("a taken item is held until dropped")
    }
}

impl<T> Drop for Taken<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.pool.put_back(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    proptest! {
        /// However many cases run on however many items, no item is ever held by two cases
        /// at once, and every item is back at the end.
        #[test]
        fn no_item_is_shared_and_none_is_lost(items in 1usize..5, cases in 1usize..40, threads in 1usize..8) {
            let pool = Arc::new(Pool::new((0..items).collect::<Vec<usize>>()));
            let holders: Arc<Vec<AtomicUsize>> = Arc::new((0..items).map(|_| AtomicUsize::new(0)).collect());
            let next = Arc::new(AtomicUsize::new(0));
            let workers: Vec<_> = (0..threads).map(|_| {
                let (pool, holders, next) = (pool.clone(), holders.clone(), next.clone());
                std::thread::spawn(move || {
                    while next.fetch_add(1, Ordering::SeqCst) < cases {
                        let item = pool.take().expect("an item");
                        assert_eq!(holders[*item].fetch_add(1, Ordering::SeqCst), 0, "item {} shared", *item);
                        std::thread::yield_now();
                        holders[*item].fetch_sub(1, Ordering::SeqCst);
                    }
                })
            }).collect();
            for w in workers {
                prop_assert!(w.join().is_ok());
            }
            prop_assert_eq!(pool.free(), items);
        }
    }

    #[test]
    fn a_detached_item_is_away_until_put_back() {
        let pool = Pool::new(vec![1, 2]);
        let item = pool.take().expect("item").detach();
        assert_eq!(pool.free(), 1);
        pool.put_back(item);
        assert_eq!(pool.free(), 2);
    }

    #[test]
    fn an_item_comes_back_when_its_holder_panics() {
        let pool = Arc::new(Pool::new(vec![7]));
        let holder = pool.clone();
        let panicked = std::thread::spawn(move || {
            let _item = holder.take().expect("item");
            panic!("a case's own bug");
        })
        .join();
        assert!(panicked.is_err());
        assert_eq!(pool.take().map(|i| *i), Some(7));
    }
}
