//! Hostile: allocates and touches 16 MiB blocks until the allocator gives up.

fn main() {
    let mut blocks = Vec::new();
    loop {
        blocks.push(vec![0xA5u8; 16 << 20]);
        eprintln!("holding {} MiB", blocks.len() * 16);
    }
}
