//! Hostile: an infinite loop that never calls the host (stopped only by the timeout or fuel).

fn main() {
    let mut counter: u64 = 0;
    loop {
        // `black_box` keeps the optimiser from proving the loop has no effect.
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}
