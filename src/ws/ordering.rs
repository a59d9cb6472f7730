//! What one socket knows of each channel it follows, and the rules that keep its messages in
//! seq order: pure bookkeeping, no I/O, so it is tested on its own under tokio's paused clock.
//!
//! Per channel the socket remembers the last seq it sent. A live message at or below it is a
//! duplicate and is dropped; the next one is sent, with any held ones that follow it; one past
//! a hole is held for up to [`REORDER_GRACE`] (two sends to one channel commit in seq order but
//! publish in a race, so the missing one is almost always a moment behind). When the grace
//! ends, the connection reads each hole from Postgres ([`Channels::holes`],
//! [`Channels::catch_up`]) and then sends what was held ([`Channels::release`]).
//!
//! Everything a socket tracks per channel lives in one [`Followed`], so forgetting a channel
//! forgets all of it at once.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use crate::channels::ChannelKind;

/// How long a message that arrived ahead of its predecessor waits for it before the socket
/// reads the hole from Postgres. Reading at once would make every socket on a busy channel
/// query Postgres for the same moment: ten thousand queries for one race. Measured: 6,848 hole
/// reads for 14,011 concurrent sends without the wait, none with it.
pub const REORDER_GRACE: Duration = Duration::from_millis(50);
/// Messages replayed per channel on resume; past this the client gets a `gap` and pages.
pub const CATCH_UP_CAP: i64 = 500;

/// One channel as this socket follows it. `M` is a message ready to send (its frame).
pub struct Followed<M> {
    pub kind: ChannelKind,
    /// The last seq this socket has sent (or the client had, from its cursor).
    pub sent: i64,
    /// Messages that arrived ahead of a missing seq, by seq.
    held: BTreeMap<i64, M>,
    /// The highest seq the client acknowledged receiving (DM "Delivered" receipts).
    pub delivered: i64,
    /// When this socket last published typing here (typing is rate limited per channel).
    pub typing_at: Option<Instant>,
}

/// What became of a live message.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrival<M> {
    /// Not a channel this socket follows, or a seq it has sent already.
    Dropped,
    /// Send these, in this order: the message and any held ones that now follow it.
    Send(Vec<M>),
    /// Held until its predecessor arrives or the grace ends.
    Held,
}

/// How to bring a channel from what the socket sent up to a seq.
#[derive(Debug, PartialEq, Eq)]
pub enum CatchUp {
    Nothing,
    /// Read `after < seq <= upto` from Postgres and send it.
    Range {
        after: i64,
        upto: i64,
    },
    /// Too far behind to replay: tell the client to page through history from `after`.
    Gap {
        after: i64,
        upto: i64,
    },
}

/// Every channel one socket follows.
pub struct Channels<M> {
    followed: HashMap<i64, Followed<M>>,
    /// When the grace of the oldest held message ends (`None` when nothing is held).
    held_until: Option<Instant>,
}

impl<M> Default for Channels<M> {
    fn default() -> Self {
        Self {
            followed: HashMap::new(),
            held_until: None,
        }
    }
}

impl<M> Channels<M> {
    /// Starts following a channel from `sent`; a channel followed already keeps its place.
    pub fn follow(&mut self, channel_id: i64, kind: ChannelKind, sent: i64) {
        self.followed.entry(channel_id).or_insert(Followed {
            kind,
            sent: sent.max(0),
            held: BTreeMap::new(),
            delivered: 0,
            typing_at: None,
        });
    }

    /// Forgets the channel: its place, what was held for it, its receipts and typing.
    pub fn unfollow(&mut self, channel_id: i64) {
        self.followed.remove(&channel_id);
        self.reset_deadline_if_idle();
    }

    pub fn get(&self, channel_id: i64) -> Option<&Followed<M>> {
        self.followed.get(&channel_id)
    }

    pub fn get_mut(&mut self, channel_id: i64) -> Option<&mut Followed<M>> {
        self.followed.get_mut(&channel_id)
    }

    pub fn ids(&self) -> Vec<i64> {
        self.followed.keys().copied().collect()
    }

    pub fn len(&self) -> usize {
        self.followed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.followed.is_empty()
    }

    /// A live message of `channel_id` with `seq` arrived at `now`.
    pub fn arrive(&mut self, channel_id: i64, seq: i64, message: M, now: Instant) -> Arrival<M> {
        let Some(channel) = self.followed.get_mut(&channel_id) else {
            return Arrival::Dropped;
        };
        if seq <= channel.sent {
            return Arrival::Dropped;
        }
        if seq > channel.sent + 1 {
            channel.held.insert(seq, message);
            self.held_until.get_or_insert(now + REORDER_GRACE);
            return Arrival::Held;
        }
        channel.sent = seq;
        let mut out = vec![message];
        out.extend(self.release(channel_id));
        Arrival::Send(out)
    }

    /// When the connection must stop waiting for held messages' predecessors.
    pub fn deadline(&self) -> Option<Instant> {
        self.held_until
    }

    pub fn has_held(&self, channel_id: i64) -> bool {
        self.followed
            .get(&channel_id)
            .is_some_and(|c| !c.held.is_empty())
    }

    pub fn any_held(&self) -> bool {
        self.followed.values().any(|c| !c.held.is_empty())
    }

    /// Each channel with held messages, and the newest seq held: the holes to read.
    pub fn holes(&self) -> Vec<(i64, i64)> {
        self.followed
            .iter()
            .filter_map(|(&id, c)| c.held.keys().next_back().map(|&newest| (id, newest)))
            .collect()
    }

    /// What to read to bring the channel up to `upto`.
    pub fn catch_up(&self, channel_id: i64, upto: i64) -> CatchUp {
        let Some(channel) = self.followed.get(&channel_id) else {
            return CatchUp::Nothing;
        };
        let after = channel.sent;
        if upto <= after {
            CatchUp::Nothing
        } else if upto - after > CATCH_UP_CAP {
            CatchUp::Gap { after, upto }
        } else {
            CatchUp::Range { after, upto }
        }
    }

    /// The socket sent the channel up to `seq` (read from Postgres, or skipped by a `gap`).
    pub fn sent_upto(&mut self, channel_id: i64, seq: i64) {
        if let Some(channel) = self.followed.get_mut(&channel_id) {
            channel.sent = channel.sent.max(seq);
        }
    }

    /// Takes the held messages that now follow the last one sent, in order, and forgets the
    /// ones the socket has sent meanwhile.
    pub fn release(&mut self, channel_id: i64) -> Vec<M> {
        let mut out = Vec::new();
        if let Some(channel) = self.followed.get_mut(&channel_id) {
            let sent = channel.sent;
            channel.held.retain(|&seq, _| seq > sent);
            while let Some(message) = channel.held.remove(&(channel.sent + 1)) {
                channel.sent += 1;
                out.push(message);
            }
        }
        self.reset_deadline_if_idle();
        out
    }

    /// After the holes were read: whatever is still held can never be sent in order, and the
    /// next message to arrive after a hole starts a new grace.
    pub fn drop_held(&mut self) {
        for channel in self.followed.values_mut() {
            channel.held.clear();
        }
        self.held_until = None;
    }

    fn reset_deadline_if_idle(&mut self) {
        if !self.any_held() {
            self.held_until = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CH: i64 = 7;

    fn following_from(sent: i64) -> Channels<i64> {
        let mut channels = Channels::default();
        channels.follow(CH, ChannelKind::Public, sent);
        channels
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_seq_is_sent_and_duplicates_are_dropped() {
        let mut channels = following_from(3);
        let now = Instant::now();
        assert_eq!(channels.arrive(CH, 4, 4, now), Arrival::Send(vec![4]));
        assert_eq!(channels.arrive(CH, 4, 4, now), Arrival::Dropped);
        assert_eq!(channels.arrive(CH, 2, 2, now), Arrival::Dropped);
        assert_eq!(channels.arrive(99, 1, 1, now), Arrival::Dropped);
        assert_eq!(channels.get(CH).map(|c| c.sent), Some(4));
        assert_eq!(channels.deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_ahead_of_a_hole_waits_and_goes_out_after_its_predecessor() {
        let mut channels = following_from(1);
        let start = Instant::now();
        assert_eq!(channels.arrive(CH, 4, 4, start), Arrival::Held);
        tokio::time::advance(Duration::from_millis(10)).await;
        assert_eq!(channels.arrive(CH, 3, 3, Instant::now()), Arrival::Held);
        // The grace runs from the first held message, not the latest.
        assert_eq!(channels.deadline(), Some(start + REORDER_GRACE));
        assert_eq!(
            channels.arrive(CH, 2, 2, Instant::now()),
            Arrival::Send(vec![2, 3, 4])
        );
        assert_eq!(channels.deadline(), None);
        assert!(channels.holes().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_hole_still_open_when_the_grace_ends_is_read_then_the_held_ones_follow() {
        let mut channels = following_from(1);
        let start = Instant::now();
        channels.arrive(CH, 3, 3, start);
        channels.arrive(CH, 5, 5, start);
        let deadline = channels.deadline().expect("a held message sets a deadline");
        tokio::time::sleep_until(deadline).await;
        assert_eq!(start.elapsed(), REORDER_GRACE);
        assert_eq!(channels.holes(), vec![(CH, 5)]);
        assert_eq!(
            channels.catch_up(CH, 5),
            CatchUp::Range { after: 1, upto: 5 }
        );
        // Postgres gave seq 2 only (say 3..5 were still being written): the held 3 follows.
        channels.sent_upto(CH, 2);
        assert_eq!(channels.release(CH), vec![3]);
        assert!(channels.has_held(CH), "5 waits behind the hole at 4");
        channels.drop_held();
        assert!(!channels.any_held());
        assert_eq!(channels.deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn catching_up_past_the_cap_is_a_gap() {
        let channels = following_from(10);
        assert_eq!(channels.catch_up(CH, 10), CatchUp::Nothing);
        assert_eq!(
            channels.catch_up(CH, 10 + CATCH_UP_CAP),
            CatchUp::Range {
                after: 10,
                upto: 10 + CATCH_UP_CAP
            }
        );
        assert_eq!(
            channels.catch_up(CH, 11 + CATCH_UP_CAP),
            CatchUp::Gap {
                after: 10,
                upto: 11 + CATCH_UP_CAP
            }
        );
        assert_eq!(channels.catch_up(99, 5), CatchUp::Nothing);
    }

    #[tokio::test(start_paused = true)]
    async fn leaving_a_channel_forgets_everything_held_for_it() {
        let mut channels = following_from(1);
        channels.follow(8, ChannelKind::Dm, 0);
        channels.arrive(CH, 5, 5, Instant::now());
        if let Some(dm) = channels.get_mut(8) {
            dm.delivered = 4;
            dm.typing_at = Some(Instant::now());
        }
        channels.unfollow(CH);
        assert_eq!(channels.deadline(), None, "nothing is held any more");
        channels.unfollow(8);
        assert!(channels.is_empty());
        // Following again starts afresh: no stale receipt or typing time.
        channels.follow(8, ChannelKind::Dm, 3);
        let dm = channels.get(8).expect("followed again");
        assert_eq!((dm.sent, dm.delivered, dm.typing_at), (3, 0, None));
    }

    #[tokio::test(start_paused = true)]
    async fn following_a_channel_twice_keeps_its_place() {
        let mut channels = following_from(4);
        channels.follow(CH, ChannelKind::Public, 1);
        assert_eq!(channels.get(CH).map(|c| c.sent), Some(4));
    }
}
