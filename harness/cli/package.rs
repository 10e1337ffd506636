//! `harness package`: a synthetic package written to standard output, the
//! same bytes `upload` sends for the seed.

use std::io::{IsTerminal as _, Write as _};

use harness::exit::{Failure, Outcome};
use harness::package::{CHUNK, PACKAGE_ID, PackageSpec};
use harness::scenario::units::Size;

pub(crate) fn package(size: Size, seed: u64) -> Result<Outcome, Failure> {
    let spec = PackageSpec {
        package_id: PACKAGE_ID.into(),
        version: "1.0.0".into(),
        content: PackageSpec::content_for_total(size.bytes()),
        seed,
    };
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        return Err(Failure::invalid(format!(
            "refusing to write a binary package to a terminal; redirect it, as in: harness package {size} > package.zip"
        )));
    }
    let failed =
        |e: std::io::Error| Failure::environment(format!("failed to write the package: {e}"));
    let mut stream = spec.stream();
    while let Some(chunk) = stream.next_chunk(CHUNK) {
        match out.write_all(&chunk) {
            Ok(()) => {}
            // A reader that has read enough (`| head -c 10`) ends it
            // quietly, as it does any Unix tool.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(Outcome::Pass),
            Err(e) => return Err(failed(e)),
        }
    }
    if let Err(e) = out.flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(failed(e));
    }
    Ok(Outcome::Pass)
}
