//! A user's devices and the per-owner cap, seen from two (or three) clients.

use http::{Method, StatusCode};
use session_core::OwnerLimitPolicy;

use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks;
use crate::client::Body;

/// `POST /login` from a client sending `User-Agent: agent`.
async fn login_as(ctx: &Ctx, user: &str, agent: &str) -> Result<crate::client::Reply, Failure> {
    ctx.send_headers(
        Method::POST,
        "/login",
        &[("user-agent", agent)],
        Body::Form(format!("user={user}")),
    )
    .await
}

/// `GET /devices` with session `sid`: the JSON list, or `Unsupported` on 501.
async fn devices(ctx: &Ctx, sid: &str) -> Result<Vec<serde_json::Value>, Failure> {
    let reply = ctx.get("/devices", Some(sid)).await?;
    if reply.status == StatusCode::NOT_IMPLEMENTED {
        return Err(Failure::Unsupported(format!(
            "GET /devices answered 501: {}",
            reply.body
        )));
    }
    reply.expect_status(StatusCode::OK)?;
    checks::no_session_cookie(&ctx.target, &reply)?;
    let json = reply.json()?;
    json.get("devices")
        .and_then(|d| d.as_array())
        .cloned()
        .ok_or_else(|| Failure::failed(format!("GET /devices: no \"devices\" list in {json}")))
}

/// `POST /devices/revoke` with form `handle=`; the reply.
async fn revoke(ctx: &Ctx, sid: &str, handle: &str) -> Result<crate::client::Reply, Failure> {
    let cookie = ctx.cookie(sid);
    ctx.send(
        Method::POST,
        "/devices/revoke",
        Some(&cookie),
        Body::Form(format!("handle={handle}")),
    )
    .await
}

/// Two clients log in as one user: each sees two devices, its own marked current (with
/// the metadata the server records, if on); one revokes the other by handle and the other
/// is logged out; handles are no session IDs; a malformed handle is a 400.
pub(crate) fn two_clients(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let user = ctx.user("grace");
        let laptop_reply = login_as(ctx, &user, "scenario-laptop/1.0").await?;
        laptop_reply.expect_status(StatusCode::NO_CONTENT)?;
        let laptop = checks::new_cookie(&ctx.target, &laptop_reply)?;
        let phone_reply = login_as(ctx, &user, "scenario-phone/2.0").await?;
        phone_reply.expect_status(StatusCode::NO_CONTENT)?;
        let phone = checks::new_cookie(&ctx.target, &phone_reply)?;

        let listed = devices(ctx, &phone).await?;
        ensure(listed.len() == 2, || {
            format!("GET /devices: expected two devices, got {listed:?}")
        })?;
        let current: Vec<_> = listed.iter().filter(|d| d["current"] == true).collect();
        ensure(current.len() == 1, || {
            format!("GET /devices: expected one current device, got {listed:?}")
        })?;
        for device in &listed {
            let handle = device["handle"].as_str().unwrap_or_default();
            ensure(
                handle.len() == 22 && !laptop.contains(handle) && !phone.contains(handle),
                || format!("a device handle is not an opaque 22-character string: {device}"),
            )?;
            ensure(
                device["created"].as_i64().is_some()
                    && device["last_seen"].as_i64() >= device["created"].as_i64()
                    && device["persistent"] == false,
                || format!("a device lacks created/last_seen/persistent: {device}"),
            )?;
            let agent = device["user_agent"].as_str();
            let expected = if ctx.target.device_metadata {
                let own = if device["current"] == true {
                    "scenario-phone/2.0"
                } else {
                    "scenario-laptop/1.0"
                };
                Some(own)
            } else {
                None
            };
            ensure(agent == expected, || {
                format!(
                    "user_agent {agent:?}, expected {expected:?} (device metadata {})",
                    ctx.target.device_metadata
                )
            })?;
            let ip = device["ip"].as_str();
            let expected = ctx.target.device_metadata.then_some("127.0.0.0/24");
            ensure(ip == expected, || {
                format!("ip {ip:?}, expected {expected:?}")
            })?;
        }
        let other = listed
            .iter()
            .find(|d| d["current"] == false)
            .and_then(|d| d["handle"].as_str())
            .unwrap_or_default()
            .to_owned();

        revoke(ctx, &phone, "not-a-handle")
            .await?
            .expect_status(StatusCode::BAD_REQUEST)?;
        let reply = revoke(ctx, &phone, &other).await?;
        reply.expect_status(StatusCode::OK)?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        ensure(reply.json()?["revoked"] == true, || {
            format!(
                "POST /devices/revoke: expected {{\"revoked\": true}}, got {}",
                reply.body
            )
        })?;
        ctx.get("/whoami", Some(&laptop))
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)
            .map_err(|_| Failure::failed("the revoked client is still logged in"))?;
        ctx.get("/whoami", Some(&phone)).await?.expect_text(&user)?;
        let left = devices(ctx, &phone).await?;
        ensure(left.len() == 1 && left[0]["current"] == true, || {
            format!("after the revocation: {left:?}")
        })?;
        // Revoked twice: nothing left to revoke.
        let again = revoke(ctx, &phone, &other).await?;
        ensure(again.json()?["revoked"] == false, || {
            format!("a second revocation answered {}", again.body)
        })?;
        // Another user's handle revokes nothing.
        let stranger = ctx.login(&ctx.user("heidi"), None).await?;
        let reply = revoke(
            ctx,
            &stranger,
            left[0]["handle"].as_str().unwrap_or_default(),
        )
        .await?;
        ensure(reply.json()?["revoked"] == false, || {
            "another user's handle revoked a session".into()
        })?;
        ctx.get("/whoami", Some(&phone)).await?.expect_text(&user)?;
        // Not signed in: 401.
        let anon = ctx.new_session("k", "v").await?;
        ctx.get("/devices", Some(&anon))
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)?;
        Ok(())
    })
}

/// With a per-owner cap of N: N logins of one user succeed; one more is refused with 409
/// (`refuse`: nothing written, the visitor's session as it was) or evicts the least
/// recently seen session (`evict`: that client is logged out).
pub(crate) fn owner_cap(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let Some((cap, policy)) = ctx.target.owner_cap else {
            return Err(Failure::NotRun(
                "the server has no per-owner cap (Target::owner_cap is unset)".into(),
            ));
        };
        let user = ctx.user("ivan");
        let mut sessions = Vec::new();
        for _ in 0..cap {
            sessions.push(ctx.login(&user, None).await?);
            // "Last seen" has millisecond resolution and ties are broken by handle: logins a
            // few milliseconds apart give the order this scenario expects under `evict`.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let visitor = ctx.new_session("cart", "3 apples").await?;
        let writes = ctx.target.writes.as_ref().map(|w| w());
        let reply = ctx.login_request(&user, Some(&visitor)).await?;
        match policy {
            OwnerLimitPolicy::Refuse => {
                reply.expect_status(StatusCode::CONFLICT)?;
                checks::no_session_cookie(&ctx.target, &reply)?;
                if let (Some(before), Some(count)) = (writes, &ctx.target.writes) {
                    ensure(count() == before, || {
                        "a refused login wrote something".into()
                    })?;
                }
                ctx.get("/session/cart", Some(&visitor))
                    .await?
                    .expect_text("3 apples")?;
                ctx.get("/whoami", Some(&visitor))
                    .await?
                    .expect_status(StatusCode::UNAUTHORIZED)?;
                for sid in &sessions {
                    ctx.get("/whoami", Some(sid)).await?.expect_text(&user)?;
                }
            }
            OwnerLimitPolicy::Evict => {
                reply.expect_status(StatusCode::NO_CONTENT)?;
                let newest = checks::new_cookie(&ctx.target, &reply)?;
                ctx.get("/whoami", Some(&newest))
                    .await?
                    .expect_text(&user)?;
                // The first login is the least recently seen (the others logged in later
                // and nothing used it since): it is the one evicted.
                ctx.get("/whoami", Some(&sessions[0]))
                    .await?
                    .expect_status(StatusCode::UNAUTHORIZED)
                    .map_err(|_| Failure::failed("the least recently seen session survived"))?;
                for sid in &sessions[1..] {
                    ctx.get("/whoami", Some(sid)).await?.expect_text(&user)?;
                }
            }
        }
        let listed = devices(ctx, &sessions[cap - 1]).await?;
        ensure(listed.len() == cap, || {
            format!(
                "{} devices after a login over the cap of {cap}",
                listed.len()
            )
        })?;
        Ok(())
    })
}
