//! The shared HTTP scenario suite against the demo app, served over real TCP, under each of
//! the set-ups of `http_scenarios::setups`.

mod demo;

use demo::serve;
use http_scenarios::setups;

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
