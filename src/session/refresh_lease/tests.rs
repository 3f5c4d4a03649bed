//! The lease over the memory store: of many callers refreshing one session at once, one
//! calls the tenant and the others get its tokens; a lease whose holder went away expires.

use super::*;
use crate::revocations::Revocations;
use crate::store::{MemoryStore, SessionStore};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

fn service() -> Arc<SessionService> {
    let config = Arc::new(crate::login::tests::test_config("http://127.0.0.1:1"));
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    Arc::new(SessionService::new(config, store, Arc::new(Revocations::new(1000)), None))
}

fn tokens(access: &str) -> Tokens {
    Tokens {
        access_token: access.into(),
        token_type: "Bearer".into(),
        expires_in: Some(60),
        refresh_token: Some(format!("refresh-of-{access}")),
        id_token: None,
        scope: None,
    }
}

async fn session(svc: &SessionService, token: &str) -> SessionRecord {
    let record = SessionRecord {
        id: hex(&digest("session")),
        cookie_id: None,
        subject: "auth0|u".into(),
        client: "website".into(),
        created: 1,
        expires: crate::store::unix_now() + 600,
        token_hash: hex(&digest(token)),
        refresh_token: None,
        access_token: None,
        token_expires: 0,
        tenant_sid: None,
    };
    svc.store().put_session(&record, None).await.unwrap();
    record
}

/// What one caller does: its turn, and (when it is its own) a "tenant call" counted. A joined
/// caller's answer is marked, so a test can tell the two apart.
async fn refresh(
    svc: &SessionService,
    s: &SessionRecord,
    calls: &AtomicU32,
    proof: Proof<'_>,
) -> Result<String, TurnError> {
    match svc.refresh_turn(s, &s.token_hash, proof).await? {
        Turn::Joined(t) => Ok(format!("joined {}", t.access_token)),
        Turn::Mine(lease) => {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            let new = tokens("t2");
            let next = SessionRecord { token_hash: hex(&digest("t2")), ..lease.session.clone() };
            let rotated = crate::store::Rotated { token_hash: &lease.session.token_hash, link_until: u64::MAX };
            svc.store().put_session(&next, Some(&rotated)).await.unwrap();
            svc.finish_refresh(*lease, Some(&new), "r1").await;
            Ok(new.access_token)
        }
    }
}

#[tokio::test]
async fn of_twenty_callers_at_once_one_calls_the_tenant_and_all_get_its_tokens() {
    let svc = service();
    let s = session(&svc, "t1").await;
    let calls = AtomicU32::new(0);
    let all = (0..20).map(|i| {
        let proof = if i % 2 == 0 { Proof::Cookie } else { Proof::RefreshToken("r1") };
        refresh(&svc, &s, &calls, proof)
    });
    let results = futures_util::future::join_all(all).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one tenant call");
    let joined = results.iter().filter(|r| r.as_deref() == Ok("joined t2")).count();
    assert_eq!(joined, 19, "the others joined it: {results:?}");
}

#[tokio::test]
async fn a_bearer_with_another_refresh_token_is_not_handed_the_outcome() {
    let svc = service();
    let s = session(&svc, "t1").await;
    let calls = AtomicU32::new(0);
    refresh(&svc, &s, &calls, Proof::Cookie).await.unwrap();
    let other = refresh(&svc, &s, &calls, Proof::RefreshToken("somebody-else's")).await;
    assert_eq!(other, Err(TurnError::Superseded));
    let cookie = refresh(&svc, &s, &calls, Proof::Cookie).await;
    assert_eq!(cookie.as_deref(), Ok("joined t2"), "the session's cookie joins");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A caller with the new token asks for a refresh of its own.
    let now = svc.store().session_by_id(&s.id).await.unwrap().unwrap();
    assert!(matches!(svc.refresh_turn(&now, &now.token_hash, Proof::Cookie).await, Ok(Turn::Mine(_))));
}

#[tokio::test]
async fn a_lease_whose_holder_went_away_expires_and_an_ended_session_is_not_refreshed() {
    let svc = service();
    let s = session(&svc, "t1").await;
    // A holder that never finishes: its lease outlives no more than its ttl.
    assert!(svc.store().take_lease(&s.id, "gone", Duration::from_millis(50)).await.unwrap());
    let calls = AtomicU32::new(0);
    assert_eq!(refresh(&svc, &s, &calls, Proof::Cookie).await.as_deref(), Ok("t2"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The session ends (a logout): its last refresh is handed to nobody, not even to a caller
    // that showed the token that refresh replaced.
    let now = svc.store().session_by_id(&s.id).await.unwrap().unwrap();
    svc.store().delete_session(&now).await.unwrap();
    assert_eq!(refresh(&svc, &s, &calls, Proof::Cookie).await, Err(TurnError::Ended));
}
