//! What the criterion benches share (`mod common;` in each).

use criterion::Criterion;
use std::time::Duration;

/// BENCH_QUICK=1 shortens warm-up and measurement for the one-command run.
pub fn config() -> Criterion {
    let c = Criterion::default();
    let c = if std::env::var_os("BENCH_QUICK").is_some() {
        c.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_millis(900))
            .sample_size(20)
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(50)
    };
    c.noise_threshold(0.03)
        .without_plots()
        .configure_from_args()
}
