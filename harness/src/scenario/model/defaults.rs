//! The serde defaults of the scenario model, in one place so
//! docs/scenarios.md can quote them.

use serde_saphyr::Spanned;

use super::super::units::{Duration, Percent, Size, StatusCodes};

pub(super) fn spanned<T>(value: T) -> Spanned<T> {
    Spanned {
        value,
        referenced: serde_saphyr::Location::UNKNOWN,
        defined: serde_saphyr::Location::UNKNOWN,
    }
}

pub fn warmup() -> Spanned<Duration> {
    spanned(Duration::from_secs(2))
}
pub fn settle() -> Spanned<Duration> {
    spanned(Duration::from_secs(3))
}
pub fn nodes() -> Spanned<u32> {
    spanned(3)
}
pub fn task_cap() -> u32 {
    5
}
pub fn heartbeat() -> Spanned<Duration> {
    spanned(Duration::from_secs(1))
}
pub fn offline_after() -> Spanned<Duration> {
    spanned(Duration::from_secs(5))
}
pub fn yes() -> bool {
    true
}
pub fn health_path() -> String {
    "/api/octopusservernodes/ping".to_string()
}
pub fn health_interval() -> Spanned<Duration> {
    spanned(Duration::from_secs(1))
}
pub fn health_timeout() -> Spanned<Duration> {
    spanned(Duration::from_millis(500))
}
pub fn threshold() -> Spanned<u32> {
    spanned(2)
}
pub fn accept() -> Spanned<StatusCodes> {
    spanned(StatusCodes::range(200, 200))
}
pub fn ladder_from() -> Spanned<Size> {
    spanned(Size::from_bytes(1 << 20))
}
pub fn ladder_to() -> Spanned<Size> {
    spanned(Size::from_bytes(2_254_857_830))
}
pub fn one() -> Spanned<u32> {
    spanned(1)
}
pub fn poll_wait() -> Spanned<Duration> {
    spanned(Duration::from_secs(30))
}
pub fn pickup_timeout() -> Spanned<Duration> {
    spanned(Duration::from_secs(120))
}
pub fn script_time() -> Spanned<Duration> {
    spanned(Duration::from_millis(200))
}
pub fn connect_within() -> Spanned<Duration> {
    spanned(Duration::from_secs(30))
}
pub fn reconnect_min() -> Spanned<Duration> {
    spanned(Duration::from_secs(5))
}
pub fn reconnect_max() -> Spanned<Duration> {
    spanned(Duration::from_secs(120))
}
pub fn via_lb() -> Spanned<String> {
    spanned("lb".to_string())
}
pub fn connect_timeout() -> Spanned<Duration> {
    spanned(Duration::from_secs(10))
}
pub fn idle_timeout() -> Spanned<Duration> {
    spanned(Duration::from_secs(120))
}
pub fn retries() -> Spanned<u32> {
    spanned(2)
}
pub fn max_fails() -> Spanned<u32> {
    spanned(1)
}
pub fn fail_timeout() -> Spanned<Duration> {
    spanned(Duration::from_secs(10))
}
pub fn queue_poll() -> Spanned<Duration> {
    spanned(Duration::from_secs(20))
}
pub fn orphan_after() -> Spanned<Duration> {
    spanned(Duration::from_secs(3600))
}
pub fn zero() -> Spanned<Duration> {
    spanned(Duration::from_secs(0))
}
pub fn task_work() -> Spanned<Duration> {
    spanned(Duration::from_secs(1))
}
pub fn clients() -> Spanned<u32> {
    spanned(4)
}
pub fn task_poll() -> Spanned<Duration> {
    spanned(Duration::from_millis(250))
}
pub fn finish_within() -> Spanned<Duration> {
    spanned(Duration::from_secs(60))
}
pub fn restart_after() -> Spanned<Duration> {
    spanned(Duration::from_secs(5))
}
pub fn maintenance_wait() -> Spanned<Duration> {
    spanned(Duration::from_secs(600))
}
pub fn ping_within() -> Spanned<Duration> {
    spanned(Duration::from_secs(2))
}
pub fn clock_skew() -> Duration {
    Duration::from_millis(250)
}
pub fn request_timeout() -> Spanned<Duration> {
    spanned(Duration::from_secs(5))
}
pub fn max_in_flight() -> Spanned<u32> {
    spanned(1024)
}
pub fn max_error_rate() -> Percent {
    "5%".parse().expect("valid literal")
}
pub fn grace() -> Duration {
    Duration::from_secs(5)
}
pub fn min_requests() -> u32 {
    20
}
pub fn load_upload_size() -> Spanned<Size> {
    spanned(Size::from_bytes(64 * 1024))
}
pub fn load_task_work() -> Spanned<Duration> {
    spanned(Duration::from_millis(100))
}
pub fn max_throughput_drop() -> Spanned<Percent> {
    spanned("10%".parse().expect("valid literal"))
}
pub fn max_p99_rise() -> Spanned<Percent> {
    spanned("20%".parse().expect("valid literal"))
}
pub fn p99_slack() -> Spanned<Duration> {
    spanned(Duration::from_millis(2))
}

/// A type's own default (`#[default]` or `impl Default`), for the
/// settings whose default is spelled on their type: the polling layout
/// (unique address), the polls of a fleet (all nodes) and a load phase's
/// mix.
pub fn of_type<T: Default>() -> Spanned<T> {
    spanned(T::default())
}
pub fn no_nodes() -> Spanned<u32> {
    spanned(0)
}
pub fn between_steps() -> Spanned<Duration> {
    spanned(Duration::from_secs(1))
}
pub fn lb_out_within() -> Spanned<Duration> {
    spanned(Duration::from_secs(15))
}
pub fn growth() -> Spanned<f64> {
    spanned(2.0)
}
pub fn resolution() -> Spanned<Percent> {
    spanned(percent("5%"))
}
pub fn search_in_flight() -> Spanned<u32> {
    spanned(10_000)
}
pub fn objective_errors() -> Spanned<Percent> {
    spanned(percent("1%"))
}
pub fn late_after() -> Spanned<Duration> {
    spanned(Duration::from_millis(10))
}
pub fn max_late() -> Spanned<Percent> {
    spanned(percent("1%"))
}
pub fn max_cpu() -> Spanned<Percent> {
    spanned(percent("90%"))
}
fn percent(literal: &str) -> Percent {
    literal.parse().expect("valid literal")
}
