//! The conformance cases, in files by topic, and the one list that runs them in order.

mod capabilities;
mod concurrency;
mod crud;
mod devices;
mod expiry;
mod gc;
mod lifetime;
mod limits;
mod requests;
mod rotation;
mod security;
mod support;

use std::future::Future;
use std::pin::Pin;

use super::context::{CaseResult, Ctx};
use crate::store::Capabilities;

type CaseFuture<'a> = Pin<Box<dyn Future<Output = CaseResult> + Send + 'a>>;
type CaseFn = for<'a> fn(&'a Ctx<'a>) -> CaseFuture<'a>;

/// One case: its name in the report, the capabilities it needs, and its body.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    /// Checked against the store's declared capabilities before the case makes any call.
    pub(crate) needs: Capabilities,
    pub(crate) run: CaseFn,
}

const NOTHING: Capabilities = Capabilities::NONE;
const COUNT: Capabilities = Capabilities {
    count: true,
    ..Capabilities::NONE
};
const OWNER_INDEX: Capabilities = Capabilities {
    owner_index: true,
    ..Capabilities::NONE
};
const GC: Capabilities = Capabilities {
    gc: true,
    ..Capabilities::NONE
};

/// Every case, in run order (the order of the conformance matrix).
pub(crate) const ALL: &[Case] = &[
    Case {
        name: "round_trip_types",
        needs: NOTHING,
        run: |c| Box::pin(crud::round_trip_types(c)),
    },
    Case {
        name: "unknown_id_gets_new_id",
        needs: NOTHING,
        run: |c| Box::pin(crud::unknown_id_gets_new_id(c)),
    },
    Case {
        name: "exist",
        needs: NOTHING,
        run: |c| Box::pin(crud::exist(c)),
    },
    Case {
        name: "insert_if_absent",
        needs: NOTHING,
        run: |c| Box::pin(crud::insert_if_absent(c)),
    },
    Case {
        name: "conditional_save_conflict",
        needs: NOTHING,
        run: |c| Box::pin(crud::conditional_save_conflict(c)),
    },
    Case {
        name: "touch_refreshes_expiry_only",
        needs: NOTHING,
        run: |c| Box::pin(crud::touch_refreshes_expiry_only(c)),
    },
    Case {
        name: "untouched_request_costs_nothing",
        needs: NOTHING,
        run: |c| Box::pin(requests::untouched_request_costs_nothing(c)),
    },
    Case {
        name: "no_record_until_data",
        needs: NOTHING,
        run: |c| Box::pin(requests::no_record_until_data(c)),
    },
    Case {
        name: "write_only_when_changed",
        needs: NOTHING,
        run: |c| Box::pin(requests::write_only_when_changed(c)),
    },
    Case {
        name: "emptied_session_deleted",
        needs: NOTHING,
        run: |c| Box::pin(requests::emptied_session_deleted(c)),
    },
    Case {
        name: "concurrent_writers_lose_nothing",
        needs: NOTHING,
        run: |c| Box::pin(concurrency::concurrent_writers(c)),
    },
    Case {
        name: "regenerate_kills_old_id",
        needs: NOTHING,
        run: |c| Box::pin(concurrency::regenerate_kills_old_id(c)),
    },
    Case {
        name: "concurrent_regenerates_do_not_fork",
        needs: NOTHING,
        run: |c| Box::pin(concurrency::concurrent_regenerates_do_not_fork(c)),
    },
    Case {
        name: "destroy_is_not_undone",
        needs: NOTHING,
        run: |c| Box::pin(requests::destroy_is_not_undone(c)),
    },
    Case {
        name: "idle_expiry_at_boundary",
        needs: NOTHING,
        run: |c| Box::pin(expiry::idle_expiry_at_boundary(c)),
    },
    Case {
        name: "absolute_lifetime",
        needs: NOTHING,
        run: |c| Box::pin(expiry::absolute_lifetime(c)),
    },
    Case {
        name: "remembered_session_lifetime",
        needs: NOTHING,
        run: |c| Box::pin(lifetime::remembered_session_has_its_own_lifetime(c)),
    },
    Case {
        name: "persistent_lifetime_bounded",
        needs: NOTHING,
        run: |c| Box::pin(lifetime::persistent_lifetime_is_bounded(c)),
    },
    Case {
        name: "rotation_grace_window",
        needs: NOTHING,
        run: |c| Box::pin(rotation::rotation_keeps_old_id_for_the_grace(c)),
    },
    Case {
        name: "concurrent_rotations_do_not_fork",
        needs: NOTHING,
        run: |c| Box::pin(rotation::concurrent_rotations_do_not_fork(c)),
    },
    Case {
        name: "gc_removes_expired",
        needs: GC,
        run: |c| Box::pin(gc::gc_removes_expired(c)),
    },
    Case {
        name: "gc_keeps_refreshed",
        needs: GC,
        run: |c| Box::pin(gc::gc_keeps_refreshed(c)),
    },
    Case {
        name: "gc_task_survives_errors",
        needs: GC,
        run: |c| Box::pin(gc::gc_task_survives_errors(c)),
    },
    Case {
        name: "count_live_sessions",
        needs: COUNT,
        run: |c| Box::pin(capabilities::count_live_sessions(c)),
    },
    Case {
        name: "owner_index",
        needs: OWNER_INDEX,
        run: |c| Box::pin(capabilities::owner_index(c)),
    },
    Case {
        name: "devices_are_listed",
        needs: OWNER_INDEX,
        run: |c| Box::pin(devices::devices_are_listed(c)),
    },
    Case {
        name: "devices_last_seen_absolute",
        needs: OWNER_INDEX,
        run: |c| Box::pin(devices::last_seen_with_absolute_lifetime(c)),
    },
    Case {
        name: "devices_revoke_by_handle",
        needs: OWNER_INDEX,
        run: |c| Box::pin(devices::revoke_by_handle(c)),
    },
    Case {
        name: "devices_handles_stable",
        needs: OWNER_INDEX,
        run: |c| Box::pin(devices::handles_are_stable_across_managers(c)),
    },
    Case {
        name: "devices_metadata_opt_in",
        needs: OWNER_INDEX,
        run: |c| Box::pin(devices::metadata_only_when_enabled(c)),
    },
    Case {
        name: "owner_cap_needs_owner_index",
        needs: NOTHING,
        run: |c| Box::pin(devices::cap_needs_owner_index(c)),
    },
    Case {
        name: "owner_cap_evict_concurrent",
        needs: OWNER_INDEX,
        run: |c| Box::pin(devices::cap_evicts_least_recently_seen(c)),
    },
    Case {
        name: "owner_cap_refuse_concurrent",
        needs: OWNER_INDEX,
        run: |c| Box::pin(devices::cap_refuses_new_logins(c)),
    },
    Case {
        name: "capabilities_match_behaviour",
        needs: NOTHING,
        run: |c| Box::pin(capabilities::capabilities_match_behaviour(c)),
    },
    Case {
        name: "record_size_limit",
        needs: NOTHING,
        run: |c| Box::pin(limits::record_size_limit(c)),
    },
    Case {
        name: "malformed_record_reads_absent",
        needs: NOTHING,
        run: |c| Box::pin(limits::malformed_record_reads_absent(c)),
    },
    Case {
        name: "invalid_ids_never_reach_provider",
        needs: NOTHING,
        run: |c| Box::pin(security::invalid_ids_never_reach_provider(c)),
    },
    Case {
        name: "backend_error_is_typed",
        needs: NOTHING,
        run: |c| Box::pin(security::backend_error_is_typed(c)),
    },
    Case {
        name: "hashed_and_signed_ids",
        needs: NOTHING,
        run: |c| Box::pin(security::hashed_and_signed_ids(c)),
    },
];
