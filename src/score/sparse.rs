//! A set of feature indices that numbers its members: the word tables of
//! a model hold a row only for the few tens of thousands of features with
//! a weight, not for every one of the `2^hash_bits` indices.

/// The members of a set of indices below `2^bits`, each with its rank:
/// how many members are smaller, which is the member's row in a table
/// that holds rows for members only.
#[derive(Clone, Debug)]
pub struct SparseIndex {
    /// One bit per index, set for members.
    bits: Vec<u64>,
    /// The members before each word of `bits`.
    before: Vec<u32>,
}

impl SparseIndex {
    /// The set of `members`, every one below `2^bits`. Indices given more
    /// than once are members once.
    pub fn new(bits: u32, members: impl IntoIterator<Item = u32>) -> Self {
        let mut words = vec![0u64; (1usize << bits).div_ceil(64)];
        for i in members {
            let i = i as usize;
            words[i / 64] |= 1 << (i % 64);
        }
        let mut before = Vec::with_capacity(words.len());
        let mut count = 0;
        for word in &words {
            before.push(count);
            count += word.count_ones();
        }
        Self {
            bits: words,
            before,
        }
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.before.last().copied().unwrap_or(0) as usize
            + self.bits.last().map_or(0, |w| w.count_ones() as usize)
    }

    /// Whether `index` is a member (`false` past the end).
    #[inline]
    pub fn contains(&self, index: u32) -> bool {
        let index = index as usize;
        self.bits
            .get(index / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }

    /// The rank of `index` among the members, if it is one.
    #[inline]
    pub fn rank(&self, index: u32) -> Option<usize> {
        let i = index as usize;
        let word = *self.bits.get(i / 64)?;
        let bit = 1u64 << (i % 64);
        if word & bit == 0 {
            return None;
        }
        let below = (word & (bit - 1)).count_ones();
        Some((self.before[i / 64] + below) as usize)
    }

    /// The members, smallest first.
    pub fn members(&self) -> impl Iterator<Item = u32> + '_ {
        (0u32..).zip(&self.bits).flat_map(|(w, &word)| {
            (0..64)
                .filter(move |b| word & (1 << b) != 0)
                .map(move |b| w * 64 + b)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_ranked_in_order() {
        let set = SparseIndex::new(10, [700, 3, 64, 63, 3, 1023]);
        assert_eq!(set.len(), 5);
        let members: Vec<u32> = set.members().collect();
        assert_eq!(members, [3, 63, 64, 700, 1023]);
        for (rank, &member) in members.iter().enumerate() {
            assert!(set.contains(member));
            assert_eq!(set.rank(member), Some(rank));
        }
        for absent in [0, 4, 62, 65, 699, 1022] {
            assert!(!set.contains(absent));
            assert_eq!(set.rank(absent), None);
        }
        assert_eq!(set.rank(1 << 20), None);
        assert!(!set.contains(1 << 20));
    }

    #[test]
    fn an_empty_set_has_no_members() {
        let set = SparseIndex::new(8, []);
        assert_eq!(set.len(), 0);
        assert_eq!(set.members().count(), 0);
        assert_eq!(set.rank(0), None);
    }
}
