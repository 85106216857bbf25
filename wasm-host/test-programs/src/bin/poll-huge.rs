//! Hostile: calls the raw `poll_oneoff` import with 2^32 − 1 subscriptions (a host that sized a
//! buffer from the count would try to allocate 206 GB and abort the whole process), then with a
//! subscription array that ends past its memory, then with none, and reports each errno.

use serde_json::json;

fn main() {
    let huge = poll(u32::MAX, 0);
    let past_the_end = poll(1, u32::MAX - 8);
    let none = poll(0, 0);
    test_programs::write_report(&test_programs::success(json!({
        "huge": huge,
        "pastTheEnd": past_the_end,
        "none": none,
    })));
}

/// `poll_oneoff(subs, events, count, &written)` with `count` subscriptions read from address
/// `subs` (an empty buffer at `subs == 0`): the raw errno, or `None` off WASI.
#[cfg(target_os = "wasi")]
#[allow(unsafe_code)]
fn poll(count: u32, subs: u32) -> Option<u16> {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        fn poll_oneoff(subs: *const u8, events: *mut u8, count: u32, written: *mut u32) -> u16;
    }
    let buffer = [0u8; 48];
    let mut events = [0u8; 32];
    let mut written = 0u32;
    let subs = if subs == 0 {
        buffer.as_ptr()
    } else {
        std::ptr::without_provenance(subs as usize)
    };
    // SAFETY: the host reads at most `count * 48` bytes at `subs` and writes at most
    // `count * 32` bytes at `events` and 4 at `written`, each after checking the range against
    // this module's memory; a correct host refuses the huge count (and the array past the end)
    // before touching memory, so the small buffers here are never overrun, and a wrong one is
    // what this program exists to find.
    let errno = unsafe { poll_oneoff(subs, events.as_mut_ptr(), count, &mut written) };
    Some(errno)
}

/// Off WASI there is no `poll_oneoff` import.
#[cfg(not(target_os = "wasi"))]
fn poll(_count: u32, _subs: u32) -> Option<u16> {
    None
}
