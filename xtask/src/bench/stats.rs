//! Per-request counts (Redis commands, SQL round trips) and the median.

use std::collections::BTreeMap;

/// Command counts by name, over one measured run.
#[derive(Debug, Clone, Default)]
pub(super) struct Counts(pub(super) BTreeMap<String, u64>);

impl Counts {
    pub(super) fn per_request(&self, requests: u64) -> PerRequest {
        let requests = requests.max(1) as f64;
        PerRequest(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), *v as f64 / requests))
                .collect(),
        )
    }
}

/// Commands (or round trips) per request, by name.
#[derive(Debug, Clone, Default)]
pub(super) struct PerRequest(pub(super) BTreeMap<String, f64>);

impl PerRequest {
    pub(super) fn total(&self) -> f64 {
        // An empty float sum is -0.0; add +0.0 so nothing prints "-0.00".
        self.0.values().sum::<f64>() + 0.0
    }

    pub(super) fn breakdown(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .filter(|(_, v)| **v >= 0.005)
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect();
        if parts.is_empty() {
            "–".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The median of the finite values (NaN when there are none).
pub(super) fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}
