//! Log-in sessions, held in memory: a random token in an HttpOnly cookie names one, which
//! carries its user and its CSRF token. A session ends after its idle time without a request,
//! after its maximum age in any case, or at log-out. A restart logs everybody out.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;

use crate::users::{UsersError, random_bytes};

/// More sessions than this and the least recently used ones are dropped: a flood of log-ins
/// cannot grow memory without bound.
const MAX_SESSIONS: usize = 10_000;
/// How long a password-checked log-in waits for its TOTP code.
const SECOND_FACTOR_WAIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Logged in.
    Full,
    /// The password was right; the TOTP code is still due.
    NeedsCode,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    /// The password hash the user logged in with: a session whose user's password has
    /// changed since (or who is gone) is over.
    pub credential: String,
    pub csrf: String,
    pub stage: Stage,
    /// What the last action said (ok, message), shown once on the next page: kept here
    /// rather than in the URL, where a crafted link could put words on a trusted page.
    flash: Option<(bool, String)>,
    created: Instant,
    last_seen: Instant,
}

pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    idle: Duration,
    max_age: Duration,
}

/// 32 random bytes, URL-safe base64.
pub fn token() -> Result<String, UsersError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(32)?))
}

impl Sessions {
    pub fn new(idle: Duration, max_age: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            idle,
            max_age,
        }
    }

    fn live(&self, s: &Session, now: Instant) -> bool {
        let idle = match s.stage {
            Stage::Full => self.idle,
            Stage::NeedsCode => self.idle.min(SECOND_FACTOR_WAIT),
        };
        now.duration_since(s.last_seen) < idle && now.duration_since(s.created) < self.max_age
    }

    /// A new session for `user`, who logged in with the password hash `credential`; its token.
    pub fn create(&self, user: &str, credential: &str, stage: Stage) -> Result<String, UsersError> {
        let id = token()?;
        let now = Instant::now();
        let session = Session {
            user: user.to_string(),
            credential: credential.to_string(),
            csrf: token()?,
            stage,
            flash: None,
            created: now,
            last_seen: now,
        };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| self.live(s, now));
            while map.len() >= MAX_SESSIONS {
                let oldest = map
                    .iter()
                    .min_by_key(|(_, s)| s.last_seen)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => map.remove(&k),
                    None => break,
                };
            }
        }
        map.insert(id.clone(), session);
        Ok(id)
    }

    /// The live session `id` names, its idle time restarted; an expired one is removed.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.get_mut(id)?;
        if !self.live(s, now) {
            map.remove(id);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// The second factor was given: the session is a full one, under a new token (the old
    /// one, seen before the log-in finished, is not reused).
    pub fn promote(&self, id: &str) -> Result<Option<String>, UsersError> {
        let new_id = token()?;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mut s) = map.remove(id) else {
            return Ok(None);
        };
        s.stage = Stage::Full;
        s.last_seen = Instant::now();
        map.insert(new_id.clone(), s);
        Ok(Some(new_id))
    }

    /// Keeps `message` for the session's next page.
    pub fn set_flash(&self, id: &str, ok: bool, message: &str) {
        if let Some(s) = self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
        {
            s.flash = Some((ok, message.to_string()));
        }
    }

    /// The message kept for this page, once.
    pub fn take_flash(&self, id: &str) -> Option<(bool, String)> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
            .and_then(|s| s.flash.take())
    }

    pub fn revoke(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Ends every session of `user` (their password was changed).
    pub fn revoke_user(&self, user: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, s| s.user != user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_are_revoked() {
        let s = Sessions::new(Duration::from_millis(50), Duration::from_secs(60));
        let id = s.create("admin", "h", Stage::Full).unwrap();
        assert_eq!(s.touch(&id).unwrap().user, "admin");
        std::thread::sleep(Duration::from_millis(80));
        assert!(s.touch(&id).is_none());
        let id = s.create("admin", "h", Stage::Full).unwrap();
        s.revoke(&id);
        assert!(s.touch(&id).is_none());
        let id = s.create("admin", "h", Stage::NeedsCode).unwrap();
        let full = s.promote(&id).unwrap().unwrap();
        assert!(s.touch(&id).is_none());
        assert_eq!(s.touch(&full).unwrap().stage, Stage::Full);
        s.set_flash(&full, true, "Saved.");
        assert_eq!(s.take_flash(&full), Some((true, "Saved.".to_string())));
        assert_eq!(s.take_flash(&full), None);
        s.revoke_user("admin");
        assert!(s.touch(&full).is_none());
    }
}
