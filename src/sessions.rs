//! Where adapters keep conversations between messages: in memory, bounded in
//! count (least recently used evicted) and in idle time. The clock is passed in,
//! like everywhere in the library.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::Session;

/// Conversations in memory, at most `capacity` of them, each forgotten after
/// `ttl` without a message.
pub struct MemoryStore {
    cache: LruCache<String, (Session, Instant)>,
    ttl: Duration,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("live", &self.cache.len())
            .field("capacity", &self.cache.cap())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl MemoryStore {
    /// A store for at most `capacity` live conversations, idle for at most `ttl`.
    pub fn new(capacity: NonZeroUsize, ttl: Duration) -> MemoryStore {
        MemoryStore {
            cache: LruCache::new(capacity),
            ttl,
        }
    }

    /// The conversation `id` as of `now`: its session, or a new one if it is
    /// unknown or was idle longer than the TTL. Take it, respond, then `put` it back.
    pub fn take(&mut self, id: &str, now: Instant) -> Session {
        match self.cache.pop(id) {
            Some((session, last)) if now.saturating_duration_since(last) <= self.ttl => session,
            _ => Session::new(),
        }
    }

    /// Stores `session` as conversation `id`, used at `now`; the least recently
    /// used conversation goes when the store is full.
    pub fn put(&mut self, id: &str, session: Session, now: Instant) {
        self.expire(now);
        self.cache.put(id.to_string(), (session, now));
    }

    /// Forgets a conversation (a member's right to be forgotten). Whether it was known.
    pub fn remove(&mut self, id: &str) -> bool {
        self.cache.pop(id).is_some()
    }

    /// Drops every conversation idle longer than the TTL at `now`.
    pub fn expire(&mut self, now: Instant) {
        while let Some((_, (_, last))) = self.cache.peek_lru() {
            if now.saturating_duration_since(*last) > self.ttl {
                self.cache.pop_lru();
            } else {
                break;
            }
        }
    }

    /// Live conversations.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether no conversation is live.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(cap: usize, ttl_secs: u64) -> MemoryStore {
        MemoryStore::new(
            NonZeroUsize::new(cap).expect("non-zero"),
            Duration::from_secs(ttl_secs),
        )
    }

    #[test]
    fn keeps_sessions_until_idle_too_long() {
        let t0 = Instant::now();
        let mut s = store(10, 60);
        let mut session = s.take("a", t0);
        session.turns = 3;
        s.put("a", session, t0);
        assert_eq!(s.take("a", t0 + Duration::from_secs(30)).turns, 3);
        s.put(
            "a",
            Session {
                turns: 4,
                ..Session::new()
            },
            t0 + Duration::from_secs(30),
        );
        // Idle 61 s after its last message: forgotten.
        assert_eq!(s.take("a", t0 + Duration::from_secs(91)).turns, 0);
    }

    #[test]
    fn evicts_the_least_recently_used_when_full() {
        let t0 = Instant::now();
        let mut s = store(2, 600);
        for id in ["a", "b", "c"] {
            s.put(
                id,
                Session {
                    turns: 1,
                    ..Session::new()
                },
                t0,
            );
        }
        assert_eq!(s.len(), 2);
        assert_eq!(s.take("a", t0).turns, 0, "a was evicted");
        assert_eq!(s.take("c", t0).turns, 1);
    }

    #[test]
    fn expire_drops_idle_conversations_and_remove_forgets() {
        let t0 = Instant::now();
        let mut s = store(10, 60);
        s.put("old", Session::new(), t0);
        s.put("new", Session::new(), t0 + Duration::from_secs(50));
        s.expire(t0 + Duration::from_secs(100));
        assert_eq!(s.len(), 1);
        assert!(s.remove("new"));
        assert!(!s.remove("new"));
        assert!(s.is_empty());
    }
}
