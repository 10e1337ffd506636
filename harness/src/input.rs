//! Files the user names (scenarios, target files, baselines, key files),
//! read whole but bounded in bytes and in time, whatever they turn out to
//! be: a device such as `/dev/zero`, a FIFO, a `/proc` file, or a regular
//! file. Their size on disk is no guide (0 for all but the last), so the
//! read itself stops one byte past the bound.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use crate::limits::INPUT_READ_WITHIN;

/// Why a file could not be read.
#[derive(Debug)]
pub enum InputError {
    /// Opening or reading failed.
    Io(std::io::Error),
    /// It held more than this many bytes.
    TooLarge(u64),
    /// Nothing ended the read within this long (a FIFO with no writer).
    Stalled(Duration),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::TooLarge(limit) => {
                write!(f, "it holds more than the limit of {limit} bytes")
            }
            Self::Stalled(d) => write!(
                f,
                "reading it did not end within {}s (a FIFO or device with no writer?); name a regular file",
                d.as_secs_f64()
            ),
        }
    }
}

/// The file's bytes, if there are at most `limit` of them and the read
/// ends within [`INPUT_READ_WITHIN`].
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    read_within(path, limit, INPUT_READ_WITHIN)
}

/// As [`read`], as text: bytes that are not UTF-8 are an error, given as
/// a sentence.
pub fn read_text(path: &Path, limit: u64) -> Result<String, String> {
    let bytes = read(path, limit).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())
}

/// As [`read`], the time bound given.
pub fn read_within(path: &Path, limit: u64, within: Duration) -> Result<Vec<u8>, InputError> {
    let (tx, rx) = mpsc::channel();
    let owned = path.to_path_buf();
    // Opening a FIFO blocks until a writer comes, and no read timeout
    // reaches `open`: the read runs on its own thread, which is left
    // blocked (and ends with the process) when the bound passes.
    std::thread::spawn(move || {
        let result = std::fs::File::open(&owned).and_then(|f| {
            let mut bytes = Vec::new();
            f.take(limit + 1).read_to_end(&mut bytes).map(|_| bytes)
        });
        let _ = tx.send(result);
    });
    match rx.recv_timeout(within) {
        Ok(Ok(bytes)) if bytes.len() as u64 > limit => Err(InputError::TooLarge(limit)),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(InputError::Io(e)),
        Err(_) => Err(InputError::Stalled(within)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_that_never_ends_is_cut_one_byte_past_the_bound() {
        let e = read(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(matches!(e, InputError::TooLarge(1_048_576)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "it holds more than the limit of 1048576 bytes"
        );
    }

    #[test]
    fn a_fifo_with_no_writer_is_given_up_on_in_time() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let e = read_within(&fifo, 100, Duration::from_millis(200)).unwrap_err();
        assert!(matches!(e, InputError::Stalled(_)), "{e:?}");
        assert!(e.to_string().contains("FIFO"), "{e}");
    }

    #[test]
    fn a_file_at_the_bound_is_read_and_one_past_it_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read(&f, 5).unwrap(), b"12345");
        assert!(matches!(read(&f, 4), Err(InputError::TooLarge(4))));
        let missing = read(&dir.path().join("none"), 5).unwrap_err();
        assert!(matches!(missing, InputError::Io(_)), "{missing:?}");
    }
}
