//! The shuffled 4-digit PIN pad: digit positions change every time it is shown.

/// A layout: `digits[position]` is the digit printed on the key at `position`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub digits: [u8; 10],
}

impl Layout {
    /// A fresh random layout (Fisher-Yates with the OS random generator).
    pub fn shuffled() -> Self {
        let mut digits = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        let mut random = [0u8; 10];
        // A failing RNG leaves the pad in order, which is still a valid layout.
        let _ = openssl::rand::rand_bytes(&mut random);
        for i in (1..10).rev() {
            let j = usize::from(random[i]) % (i + 1);
            digits.swap(i, j);
        }
        Layout { digits }
    }

    /// The key positions a patient presses to type `pin` (what a robot finger would do).
    pub fn positions_for(&self, pin: &str) -> Option<Vec<usize>> {
        pin.bytes()
            .map(|b| {
                let digit = b.checked_sub(b'0')?;
                self.digits.iter().position(|&d| d == digit)
            })
            .collect()
    }

    /// The digits typed by pressing `positions`.
    pub fn digits_at(&self, positions: &[usize]) -> Option<String> {
        positions
            .iter()
            .map(|&p| self.digits.get(p).map(|d| char::from(b'0' + d)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_permutations_and_round_trip() {
        let mut seen_orders = std::collections::HashSet::new();
        for _ in 0..50 {
            let layout = Layout::shuffled();
            let mut sorted = layout.digits;
            sorted.sort();
            assert_eq!(sorted, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
            let positions = layout.positions_for("0429").unwrap();
            assert_eq!(layout.digits_at(&positions).as_deref(), Some("0429"));
            seen_orders.insert(layout.digits);
        }
        assert!(seen_orders.len() > 40, "the layout must change every time");
        assert_eq!(Layout::shuffled().positions_for("12a4"), None);
    }
}
