//! What the unit tests share: a seeded generator for their random cases.

/// Xorshift64 from a non-zero `seed`: random cases that are the same on every run, with
/// no dependency for tests alone.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
