//! Hostile: sleeps forever inside the host's `poll_oneoff`, where an epoch deadline alone cannot
//! interrupt it.

fn main() {
    eprintln!("going to sleep");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
