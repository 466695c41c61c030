//! Where `triage serve` keeps conversations between messages: in this process
//! (bounded by count and idle time), or in Redis so that any number of
//! instances behind a load balancer continue each other's conversations.
//!
//! A session is JSON under `triage:session:{id}`, written with the idle TTL
//! (`SET … PX ttl`), so Redis forgets it exactly when an in-memory store would.
//! A sorted set `triage:sessions` (conversation id → last use, in ms) answers
//! "how many are live" for `/metrics` without scanning keys.
//!
//! If Redis cannot be reached, a message is answered as the first of its
//! conversation rather than refused: an emergency must get 911 whatever state
//! the session store is in. The failure is logged and counted.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use triage::Session;
use triage::sessions::MemoryStore;

const KEY_PREFIX: &str = "triage:session:";
/// Longest wait for Redis on one command; past it the turn goes on without it.
const BUDGET: Duration = Duration::from_millis(250);
const INDEX_KEY: &str = "triage:sessions";

/// The session store of one server.
pub enum Store {
    /// Sessions in this process.
    Memory(Mutex<MemoryStore>),
    /// Sessions shared through Redis.
    Redis(RedisStore),
}

/// Sessions in Redis.
pub struct RedisStore {
    conn: ConnectionManager,
    ttl: Duration,
    /// Failed Redis commands since start.
    errors: AtomicU64,
}

/// A poisoned lock only means another request panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `url` with any password replaced, fit for logs and error messages.
pub fn display_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// `command`, or a timeout error once it has taken longer than [`BUDGET`].
async fn within<T>(command: impl Future<Output = redis::RedisResult<T>>) -> redis::RedisResult<T> {
    tokio::time::timeout(BUDGET, command)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "session store timeout",
            )))
        })
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Store {
    /// Connects to Redis at `url` (`redis://host:port/db`), failing within a few
    /// seconds with a message that names the server (never its password).
    pub async fn redis(url: &str, ttl: Duration) -> Result<Store> {
        let shown = display_url(url);
        let client = redis::Client::open(url).with_context(|| {
            format!("--sessions {shown} is not a Redis URL (redis://host:port/db)")
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(BUDGET))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let mut conn = client
            .get_connection_manager_with_config(config)
            .await
            .with_context(|| format!("cannot reach the session store at {shown}"))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .with_context(|| format!("the session store at {shown} does not answer PING"))?;
        tracing::info!(store = %shown, "sessions in Redis");
        Ok(Store::Redis(RedisStore {
            conn,
            ttl,
            errors: AtomicU64::new(0),
        }))
    }

    /// The conversation `id`: its session, or a new one if it is unknown, idle
    /// longer than the TTL, or the store cannot be read.
    pub async fn take(&self, id: &str) -> Session {
        match self {
            Store::Memory(m) => lock(m).take(id, Instant::now()),
            Store::Redis(r) => {
                let mut conn = r.conn.clone();
                let stored: redis::RedisResult<Option<Vec<u8>>> =
                    within(conn.get(format!("{KEY_PREFIX}{id}"))).await;
                match stored {
                    Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                        tracing::warn!(
                            conversation = id,
                            "stored session unreadable; starting a new one"
                        );
                        Session::new()
                    }),
                    Ok(None) => Session::new(),
                    Err(e) => {
                        r.failed("read", &e);
                        Session::new()
                    }
                }
            }
        }
    }

    /// Stores the session of conversation `id` after a turn.
    pub async fn put(&self, id: &str, session: Session) {
        match self {
            Store::Memory(m) => lock(m).put(id, session, Instant::now()),
            Store::Redis(r) => {
                let Ok(json) = serde_json::to_vec(&session) else {
                    return;
                };
                let ttl_ms = r.ttl.as_millis().max(1) as u64;
                let now = now_millis();
                let mut conn = r.conn.clone();
                let done: redis::RedisResult<()> = within(
                    redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(format!("{KEY_PREFIX}{id}"))
                        .arg(json)
                        .arg("PX")
                        .arg(ttl_ms)
                        .ignore()
                        .zadd(INDEX_KEY, id, now)
                        .ignore()
                        .zrembyscore(INDEX_KEY, "-inf", now - ttl_ms as i64)
                        .ignore()
                        .pexpire(INDEX_KEY, ttl_ms as i64)
                        .ignore()
                        .query_async(&mut conn),
                )
                .await;
                if let Err(e) = done {
                    r.failed("write", &e);
                }
            }
        }
    }

    /// Forgets conversation `id` (a member's right to be forgotten).
    pub async fn remove(&self, id: &str) -> Result<(), String> {
        match self {
            Store::Memory(m) => {
                lock(m).remove(id);
                Ok(())
            }
            Store::Redis(r) => {
                let mut conn = r.conn.clone();
                let done: redis::RedisResult<()> = redis::pipe()
                    .atomic()
                    .del(format!("{KEY_PREFIX}{id}"))
                    .ignore()
                    .zrem(INDEX_KEY, id)
                    .ignore()
                    .query_async(&mut conn)
                    .await;
                done.map_err(|e| {
                    r.failed("delete", &e);
                    "the session store cannot be reached; try again".to_string()
                })
            }
        }
    }

    /// Live conversations, when the store can tell.
    pub async fn live(&self) -> Option<usize> {
        match self {
            Store::Memory(m) => {
                let mut m = lock(m);
                m.expire(Instant::now());
                Some(m.len())
            }
            Store::Redis(r) => {
                let mut conn = r.conn.clone();
                let cutoff = now_millis() - r.ttl.as_millis() as i64;
                let counted: redis::RedisResult<(usize,)> = redis::pipe()
                    .zrembyscore(INDEX_KEY, "-inf", cutoff)
                    .ignore()
                    .zcard(INDEX_KEY)
                    .query_async(&mut conn)
                    .await;
                match counted {
                    Ok((n,)) => Some(n),
                    Err(e) => {
                        r.failed("count", &e);
                        None
                    }
                }
            }
        }
    }

    /// Failed session-store commands since start.
    pub fn errors(&self) -> u64 {
        match self {
            Store::Memory(_) => 0,
            Store::Redis(r) => r.errors.load(Ordering::Relaxed),
        }
    }

    /// `memory` or `redis`, for `/healthz`.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }
}

impl RedisStore {
    fn failed(&self, what: &'static str, e: &redis::RedisError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        // The error names the server and the failure, never a key or a value.
        tracing::warn!(operation = what, kind = ?e.kind(), "session store failed; answering without the conversation's context");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            display_url("redis://:s3cret@10.0.0.5:6379/0"),
            "redis://***@10.0.0.5:6379/0"
        );
        assert_eq!(display_url("redis://user:pw@host/1"), "redis://***@host/1");
        assert_eq!(
            display_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }

    #[tokio::test]
    async fn memory_store_round_trip() {
        let store = Store::Memory(Mutex::new(MemoryStore::new(
            std::num::NonZeroUsize::new(4).expect("non-zero"),
            Duration::from_secs(60),
        )));
        let mut s = store.take("a").await;
        s.turns = 2;
        store.put("a", s).await;
        assert_eq!(store.live().await, Some(1));
        assert_eq!(store.take("a").await.turns, 2);
        store.put("a", Session::new()).await;
        store.remove("a").await.expect("memory never fails");
        assert_eq!(store.take("a").await.turns, 0);
        assert_eq!(store.kind(), "memory");
    }
}
