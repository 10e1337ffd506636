//! `harness upload`: one synthetic package, streamed to a server or LB as
//! it is generated, and how it went.

use crate::args::UploadArgs;
use crate::shared::runtime;
use harness::client::ApiKey;
use harness::exit::{Failure, Kind, Outcome};
use harness::package::{PACKAGE_ID, PackageSpec};
use harness::upload::{Attempt, OverwriteMode, UploadClass, Uploader};

pub(crate) fn upload(a: UploadArgs) -> Result<Outcome, Failure> {
    let key = api_key(&a)?;
    let mode = match a.overwrite_mode.as_str() {
        "FailIfExists" => OverwriteMode::FailIfExists,
        "OverwriteExisting" => OverwriteMode::OverwriteExisting,
        "IgnoreIfExists" => OverwriteMode::IgnoreIfExists,
        other => {
            return Err(Failure::invalid(format!(
                "--overwrite-mode {other:?}: use FailIfExists, OverwriteExisting or IgnoreIfExists"
            )));
        }
    };
    let spec = PackageSpec {
        package_id: PACKAGE_ID.into(),
        version: a.version.clone(),
        content: PackageSpec::content_for_total(a.size.bytes()),
        seed: a.seed,
    };
    if harness::package::parse_file_name(&spec.file_name()).is_none() {
        return Err(Failure::invalid(format!(
            "--version {:?} is not a package version",
            a.version
        )));
    }
    let uploader = Uploader::new(
        "target",
        &a.url,
        key,
        &harness::target::Trust::System,
        std::time::Duration::from_secs(10),
        a.idle_timeout.get(),
        a.throttle.map(|t| t.bytes_per_sec()),
    )
    .map_err(Failure::environment)?;
    let rt = runtime()?;
    let bar = indicatif::ProgressBar::new(spec.len());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "[{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let a = rt.block_on(uploader.attempt(&spec, mode, Some(bar.clone())));
    bar.finish_and_clear();
    print_attempt(&spec, &a);
    if a.class == UploadClass::Accepted {
        Ok(Outcome::Pass)
    } else if a.unreachable {
        // As every command that cannot reach its cluster; the error is
        // among the lines above.
        Err(Failure::said(Kind::Environment))
    } else {
        Ok(Outcome::CheckFailed)
    }
}

/// The key from `--api-key-file` or the variable `--api-key-env` names.
fn api_key(a: &UploadArgs) -> Result<ApiKey, Failure> {
    let key = match &a.api_key_file {
        Some(f) => harness::input::read_text(f, harness::limits::MAX_KEY_FILE_BYTES)
            .map(|k| k.trim().to_string())
            .map_err(|e| format!("failed to read the API key from {}: {e}", f.display())),
        None => std::env::var(&a.api_key_env)
            .map_err(|_| format!("no API key: set {} or give --api-key-file", a.api_key_env)),
    };
    match key {
        Ok(k) if !k.is_empty() => Ok(ApiKey::new(k)),
        Ok(_) => Err(Failure::invalid("the API key is empty")),
        Err(e) => Err(Failure::invalid(e)),
    }
}

fn print_attempt(spec: &PackageSpec, a: &Attempt) {
    let secs = a.done.as_secs_f64();
    let to_last = a.last_byte.map(|d| d.as_secs_f64());
    println!("file:      {}", spec.file_name());
    println!("size:      {} bytes", spec.len());
    println!(
        "outcome:   {:?}{}",
        a.class,
        a.status.map(|s| format!(" ({s})")).unwrap_or_default()
    );
    if let Some(server) = &a.server {
        println!("server:    {server}");
    }
    if let Some(e) = &a.error {
        println!("error:     {e}");
    }
    println!("sent:      {} bytes", a.bytes_sent);
    if let Some(t) = to_last {
        println!(
            "last byte: {t:.3}s ({:.1} MiB/s)",
            a.bytes_sent as f64 / 1048576.0 / t.max(1e-9)
        );
    }
    println!("response:  {secs:.3}s");
    if let Some(h) = &a.sha1 {
        println!("sha1:      {h}");
    }
    if let Some(h) = &a.server_hash {
        println!("server:    {h}");
    }
}
