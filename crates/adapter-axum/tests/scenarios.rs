//! The shared HTTP scenario suite against the demo app, served over real TCP, under each of
//! the set-ups of `http_scenarios::setups`; and a check that the suite notices broken
//! adapters.

mod demo;

use demo::{routes, serve, serve_router};
use http_scenarios::{Target, setups};
use session_core::Options;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_provider_with_secure_cookies() {
    setups::memory_with_secure_cookies(serve).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_provider_with_signed_cookies_and_hashed_ids() {
    setups::signed_cookies_and_hashed_ids(serve).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_provider_with_cookie_name_path_and_domain() {
    setups::file_with_cookie_name_path_and_domain(serve).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_built_manager_without_outage_switch() {
    setups::registry_built_without_outage_switch(serve).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_provider_with_id_rotation() {
    setups::memory_with_rotation(serve).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_provider_with_device_metadata_and_owner_cap() {
    setups::memory_with_owner_cap(serve).await;
}

/// The suite is only worth something if it notices a broken adapter: each mutation below
/// must fail the scenarios that cover it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_catches_broken_adapters() {
    let options = Options::default();
    let failed = |report: &http_scenarios::Report, name: &str, needle: &str| {
        let scenario = report
            .scenarios
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("scenario {name} ran"));
        match &scenario.outcome {
            http_scenarios::Outcome::Failed(why) => {
                assert!(why.contains(needle), "{name}: {why} lacks {needle}")
            }
            other => panic!("{name} should fail with {needle:?}, got {other:?}\n{report}"),
        }
    };

    // An adapter that forgets Cache-Control: no-store.
    let (manager, _) = setups::instrumented_memory(options.clone());
    let app = routes::app(manager).layer(axum::middleware::map_response(
        |mut response: axum::response::Response| async move {
            response
                .headers_mut()
                .remove(axum::http::header::CACHE_CONTROL);
            response
        },
    ));
    let url = serve_router(app).await;
    let report = http_scenarios::run_only(&Target::for_options(url, &options), |n| {
        n == "attributes on create" || n == "set, get and delete round trip"
    })
    .await;
    failed(&report, "attributes on create", "no-store");
    failed(&report, "set, get and delete round trip", "no-store");

    // Cookie attributes that differ from the configuration: the target expects a Domain and
    // no Secure, the app sends Secure and no Domain.
    let (manager, _) = setups::instrumented_memory(options.clone());
    let mut wrong = Target::for_options(serve(manager).await, &options).with_secure(false);
    let report =
        http_scenarios::run_only(&wrong, |n| n == "attributes on regenerate (login)").await;
    failed(&report, "attributes on regenerate (login)", "Secure");
    wrong.secure = true;
    wrong.domain = Some("example.test".into());
    let report = http_scenarios::run_only(&wrong, |n| n == "attributes on destroy (logout)").await;
    failed(
        &report,
        "attributes on destroy (logout)",
        "Domain=example.test",
    );

    // An adapter that answers an oversized record with 500, as they all did before core's
    // rule made it 413.
    let (manager, _) = setups::instrumented_memory(options.clone());
    let app = routes::app(manager).layer(axum::middleware::map_response(
        |mut response: axum::response::Response| async move {
            if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                *response.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            }
            response
        },
    ));
    let url = serve_router(app).await;
    let report = http_scenarios::run_only(&Target::for_options(url, &options), |n| {
        n.contains("max_record_size")
    })
    .await;
    failed(
        &report,
        "record over max_record_size is 413, data kept",
        "expected 413",
    );

    // A manager whose every route runs under `anonymous`, not only the public page: the
    // routes that must fail answer as to a visitor instead of 503.
    let anonymous = Options {
        outage_policy: session_core::OutagePolicy::Anonymous,
        ..options.clone()
    };
    let (manager, store) = setups::instrumented_memory(anonymous.clone());
    let target = Target::for_options(serve(manager).await, &anonymous)
        .with_outage(move |down| store.set_down(down));
    let report = http_scenarios::run_only(&target, |n| n.starts_with("anonymous page")).await;
    failed(
        &report,
        "anonymous page serves through an outage, writes refused",
        "expected 503",
    );

    // An adapter that drops the token header from its answers, and a manager whose every
    // route reads the header, so the cookie routes take a bearer token too.
    let (manager, _) = setups::instrumented_memory(options.clone());
    let app = routes::app(manager).layer(axum::middleware::map_response(
        |mut response: axum::response::Response| async move {
            response.headers_mut().remove("session-token");
            response
        },
    ));
    let url = serve_router(app).await;
    let report = http_scenarios::run_only(&Target::for_options(url, &options), |n| {
        n.starts_with("header routes")
    })
    .await;
    let header_routes = "header routes: bearer token in, Session-Token out, no cookie fallback";
    failed(&report, header_routes, "expected a Session-Token header");
    let everywhere = Options {
        transport: session_core::Transport::Header,
        ..options.clone()
    };
    let (manager, _) = setups::instrumented_memory(everywhere.clone());
    let target = Target::for_options(serve(manager).await, &everywhere);
    let report = http_scenarios::run_only(&target, |n| n.starts_with("header routes")).await;
    failed(&report, header_routes, "GET /whoami: expected 401");

    // A request header lost on the way to the CSRF guard: the right token is refused.
    let (manager, _) = setups::instrumented_memory(options.clone());
    let app = routes::app(manager).layer(axum::middleware::map_request(
        |mut request: axum::extract::Request| async move {
            request.headers_mut().remove("x-csrf-token");
            request
        },
    ));
    let url = serve_router(app).await;
    let report = http_scenarios::run_only(&Target::for_options(url, &options), |n| {
        n.starts_with("csrf guard")
    })
    .await;
    failed(
        &report,
        "csrf guard: 403 without the session's token, rotated at login",
        "expected 204",
    );

    // An outage switch that does nothing: the app keeps answering 200.
    let (manager, _) = setups::instrumented_memory(options.clone());
    let target = Target::for_options(serve(manager).await, &options).with_outage(|_| {});
    let report = http_scenarios::run_only(&target, |n| n.starts_with("backend outage")).await;
    failed(
        &report,
        "backend outage answers 503 and keeps the cookie",
        "expected 503",
    );
}
