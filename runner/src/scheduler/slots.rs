//! Run slots: a global limit and per-lane limits, FIFO within a lane, round-robin across lanes.
//!
//! A lane is one worker on one backend. A job waits in its lane's queue until both its lane and
//! the global pool have room; when a slot frees, the lanes with waiting jobs are served in turn
//! (the lane served last goes to the back), so a worker with a thousand queued jobs cannot starve
//! one with a single job. Dropping a waiting future leaves the queue; dropping a [`Permit`]
//! frees its slot; both hand the slot to the next waiter at once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// The concurrency limits shared by every job of a scheduler.
#[derive(Debug, Clone)]
pub struct Slots {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    global_limit: usize,
    running: usize,
    lanes: HashMap<String, Lane>,
    /// Lanes with waiting jobs, in the order they will be served.
    ring: VecDeque<String>,
    next_ticket: u64,
    grants: u64,
}

#[derive(Debug, Default)]
struct Lane {
    limit: usize,
    running: usize,
    waiters: VecDeque<Waiter>,
}

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    tx: oneshot::Sender<Permit>,
}

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    slots: Option<Slots>,
    lane: String,
    grant: u64,
}

/// How many jobs hold or wait for slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Jobs holding a slot.
    pub running: usize,
    /// Jobs waiting.
    pub waiting: usize,
}

impl Slots {
    /// Slots with `global_limit` jobs running at once in all (at least one).
    pub fn new(global_limit: usize) -> Self {
        let state = State {
            global_limit: global_limit.max(1),
            running: 0,
            lanes: HashMap::new(),
            ring: VecDeque::new(),
            next_ticket: 0,
            grants: 0,
        };
        Self {
            inner: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves only counters behind; keep using them.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for a slot in `lane` (at most `limit` running in it). Cancel-safe: dropping the
    /// future before it completes gives up the place in the queue, or the slot if it was granted.
    pub async fn acquire(&self, lane: &str, limit: u32) -> Permit {
        let rx = {
            let mut state = self.lock();
            let limit = (limit as usize).max(1);
            let global_free = state.running < state.global_limit;
            let entry = state.lanes.entry(lane.to_string()).or_default();
            entry.limit = limit;
            if entry.waiters.is_empty() && entry.running < limit && global_free {
                entry.running += 1;
                state.running += 1;
                state.grants += 1;
                return Permit {
                    slots: Some(self.clone()),
                    lane: lane.to_string(),
                    grant: state.grants,
                };
            }
            let (tx, rx) = oneshot::channel();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            let entry = state
                .lanes
                .get_mut(lane)
                .expect("the lane was just inserted");
            entry.waiters.push_back(Waiter { ticket, tx });
            if !state.ring.iter().any(|l| l == lane) {
                state.ring.push_back(lane.to_string());
            }
            WaitGuard {
                slots: self,
                lane,
                ticket,
                rx: Some(rx),
            }
        };
        rx.wait().await
    }

    /// How many jobs of `lane` hold a slot now.
    pub fn running(&self, lane: &str) -> usize {
        self.lock().lanes.get(lane).map_or(0, |l| l.running)
    }

    /// How many jobs may run at once in all.
    pub fn global_limit(&self) -> usize {
        self.lock().global_limit
    }

    /// Jobs running and waiting, all lanes together.
    pub fn usage(&self) -> Usage {
        let state = self.lock();
        Usage {
            running: state.running,
            waiting: state.lanes.values().map(|l| l.waiters.len()).sum(),
        }
    }

    fn release(&self, lane: &str) {
        let mut state = self.lock();
        state.running -= 1;
        if let Some(entry) = state.lanes.get_mut(lane) {
            entry.running -= 1;
        }
        self.dispatch(&mut state);
    }

    /// Grants free slots to waiters, one lane at a time in ring order.
    fn dispatch(&self, state: &mut State) {
        while state.running < state.global_limit {
            let Some(pos) = state.ring.iter().position(|lane| {
                let l = &state.lanes[lane];
                !l.waiters.is_empty() && l.running < l.limit
            }) else {
                break;
            };
            let lane = state.ring.remove(pos).expect("position is in range");
            let entry = state.lanes.get_mut(&lane).expect("ring lanes exist");
            let waiter = entry.waiters.pop_front().expect("the lane has a waiter");
            entry.running += 1;
            let more = !entry.waiters.is_empty();
            state.running += 1;
            state.grants += 1;
            if more {
                state.ring.push_back(lane.clone());
            }
            let permit = Permit {
                slots: Some(self.clone()),
                lane: lane.clone(),
                grant: state.grants,
            };
            if let Err(mut permit) = waiter.tx.send(permit) {
                // The waiter went away between queueing and now: undo by hand, since dropping
                // the permit here would take the lock again.
                permit.slots = None;
                state.running -= 1;
                state
                    .lanes
                    .get_mut(&lane)
                    .expect("ring lanes exist")
                    .running -= 1;
            }
        }
        let lanes = &state.lanes;
        state.ring.retain(|lane| !lanes[lane].waiters.is_empty());
    }
}

impl Permit {
    /// The lane this slot belongs to.
    pub fn lane(&self) -> &str {
        &self.lane
    }

    /// This grant's position among all grants of its [`Slots`], from 1: the order in which jobs
    /// started, for logs and for checking fairness.
    pub fn grant_number(&self) -> u64 {
        self.grant
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.release(&self.lane);
        }
    }
}

/// Removes a waiter that is dropped before its slot is granted.
struct WaitGuard<'a> {
    slots: &'a Slots,
    lane: &'a str,
    ticket: u64,
    rx: Option<oneshot::Receiver<Permit>>,
}

impl WaitGuard<'_> {
    async fn wait(mut self) -> Permit {
        let rx = self.rx.as_mut().expect("the receiver is taken only here");
        let permit = rx
            .await
            .expect("a queued waiter's sender is kept until it is granted");
        self.rx = None;
        permit
    }
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else { return };
        // Close first so no grant can arrive after the check below.
        rx.close();
        if let Ok(permit) = rx.try_recv() {
            // Granted but never received: dropping the permit frees the slot for the next job.
            drop(permit);
            return;
        }
        let mut state = self.slots.lock();
        if let Some(entry) = state.lanes.get_mut(self.lane) {
            entry.waiters.retain(|w| w.ticket != self.ticket);
        }
        let lanes = &state.lanes;
        let keep: Vec<bool> = state
            .ring
            .iter()
            .map(|l| !lanes[l].waiters.is_empty())
            .collect();
        let mut keep = keep.into_iter();
        state.ring.retain(|_| keep.next().unwrap_or(false));
    }
}
