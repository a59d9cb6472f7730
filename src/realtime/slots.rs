//! How many sockets each user holds on this node, so one account cannot open thousands (each
//! costs memory and a task, and every event fans out to each). Past the cap a new socket is
//! refused with 429 before the upgrade; a closed one frees its slot when its [`Slot`] drops.
//! The count is per node: behind a load balancer a user's sockets spread over the nodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Sockets a user may hold on one node: tabs and devices, with room to spare.
pub const PER_USER: usize = 16;

#[derive(Default)]
pub struct SocketSlots {
    held: Arc<Mutex<HashMap<i64, usize>>>,
    /// `None` when limits are off (`NATTER_RATE_LIMITS=off`, for load tests).
    max: Option<usize>,
}

/// One socket's place in the count; dropping it frees the place.
pub struct Slot {
    held: Arc<Mutex<HashMap<i64, usize>>>,
    user_id: i64,
}

impl SocketSlots {
    pub fn new(limited: bool) -> Self {
        Self {
            held: Arc::default(),
            max: limited.then_some(PER_USER),
        }
    }

    /// A slot for one more socket of `user_id`, unless they hold the most already.
    pub fn take(&self, user_id: i64) -> Option<Slot> {
        let mut held = self.held.lock().expect("the slot map is never poisoned");
        let count = held.entry(user_id).or_default();
        if self.max.is_some_and(|max| *count >= max) {
            return None;
        }
        *count += 1;
        Some(Slot {
            held: self.held.clone(),
            user_id,
        })
    }

    /// Sockets `user_id` holds on this node.
    pub fn held_by(&self, user_id: i64) -> usize {
        let held = self.held.lock().expect("the slot map is never poisoned");
        held.get(&user_id).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.held.lock().expect("the slot map is never poisoned");
        if let Some(count) = held.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_the_cap_and_a_dropped_slot_is_freed() {
        let slots = SocketSlots::new(true);
        let held: Vec<Slot> = (0..PER_USER).map(|_| slots.take(7).unwrap()).collect();
        assert!(slots.take(7).is_none());
        assert!(slots.take(8).is_some(), "another user is not affected");
        drop(held);
        assert_eq!(slots.held_by(7), 0);
        assert!(slots.take(7).is_some());
        let unlimited = SocketSlots::new(false);
        let many: Vec<Slot> = (0..100).map(|_| unlimited.take(7).unwrap()).collect();
        assert_eq!(unlimited.held_by(7), many.len());
    }
}
