//! Synthetic packages: what the harness uploads, and the rules Octopus uses
//! to read a package's ID and version from its file name.
//!
//! A package is a ZIP file with one stored (uncompressed) entry whose bytes
//! come from a ChaCha8 stream of the seed: deterministic, incompressible,
//! and produced chunk by chunk, so a 5 GiB package is never held in memory
//! or written to disk by the harness. The archive always uses the ZIP64
//! records and a data descriptor, so one layout serves every size and the
//! CRC-32 and SHA-1 are computed as the bytes go out. Its length is known
//! before the first byte, so uploads carry a Content-Length.
//!
//! The multipart framing of `POST /api/{spaceId}/packages/raw` is here too:
//! one part named `file` with the package's file name.

use bytes::{BufMut, Bytes, BytesMut};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sha1::{Digest, Sha1};

/// Octopus's own rules for a package's file name and hash, which the
/// reference nodes apply too.
pub use reference_cluster::vocab::{hex, parse_file_name};

/// The package ID of every package the harness makes (the upload
/// workloads', the ladder's, `harness upload`'s).
pub const PACKAGE_ID: &str = "HarnessProbe";

/// The package ID of a load phase's uploads.
pub const LOAD_PACKAGE_ID: &str = "HarnessLoad";

/// Bytes per chunk the stream yields.
pub const CHUNK: usize = 256 * 1024;

/// The one entry's name inside every package.
const ENTRY: &str = "payload.bin";

/// ZIP "version needed": 4.5, for ZIP64.
const ZIP64_VERSION: u16 = 45;

/// General purpose flags: sizes in a data descriptor (bit 3), UTF-8 names
/// (bit 11).
const FLAGS: u16 = 0x0808;

/// DOS date of 1980-01-01, the earliest a ZIP can say: fixed, so the same
/// seed gives the same bytes.
const DOS_DATE: u16 = (1 << 5) | 1;

const LOCAL_LEN: u64 = 30 + ENTRY.len() as u64 + 20;
const DESCRIPTOR_LEN: u64 = 24;
const CENTRAL_LEN: u64 = 46 + ENTRY.len() as u64 + 28;
const END_LEN: u64 = 56 + 20 + 22;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSpec {
    /// The package ID, such as `HarnessProbe`.
    pub package_id: String,
    /// The version, unique to the run.
    pub version: String,
    /// Bytes of content in the one entry.
    pub content: u64,
    /// Seed of the content.
    pub seed: u64,
}

impl PackageSpec {
    /// `<PackageId>.<Version>.zip`.
    pub fn file_name(&self) -> String {
        format!("{}.{}.zip", self.package_id, self.version)
    }

    /// The whole file's length.
    pub fn len(&self) -> u64 {
        LOCAL_LEN + self.content + DESCRIPTOR_LEN + CENTRAL_LEN + END_LEN
    }

    /// True for a package with no content (it still has a ZIP's records).
    pub fn is_empty(&self) -> bool {
        self.content == 0
    }

    /// The content size that makes the whole file `total` bytes long, as
    /// near as the ZIP records allow.
    pub fn content_for_total(total: u64) -> u64 {
        total.saturating_sub(LOCAL_LEN + DESCRIPTOR_LEN + CENTRAL_LEN + END_LEN)
    }

    /// The SHA-1 of the whole file, by generating it (and dropping every
    /// byte): what the server's `Hash` must be.
    pub fn sha1(&self) -> String {
        let mut s = self.stream();
        while s.next_chunk(CHUNK).is_some() {}
        s.sha1_hex().unwrap_or_default().to_string()
    }

    /// The stream of the package's bytes.
    pub fn stream(&self) -> PackageStream {
        PackageStream {
            rng: ChaCha8Rng::seed_from_u64(self.seed),
            spare: Vec::new(),
            remaining: self.content,
            content: self.content,
            stage: Stage::Header,
            crc: crc32fast::Hasher::new(),
            sha1: Sha1::new(),
            digest: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Content,
    Trailer,
    Done,
}

/// A package's bytes, chunk by chunk, with its SHA-1 at the end.
pub struct PackageStream {
    rng: ChaCha8Rng,
    /// Drawn and not yet sent: the end of a word a chunk ended inside.
    spare: Vec<u8>,
    remaining: u64,
    content: u64,
    stage: Stage,
    crc: crc32fast::Hasher,
    sha1: Sha1,
    digest: Option<String>,
}

impl PackageStream {
    /// The next chunk of at most `max` bytes (at least one record or one
    /// byte of content); None at the end.
    pub fn next_chunk(&mut self, max: usize) -> Option<Bytes> {
        let chunk = match self.stage {
            Stage::Header => {
                self.stage = if self.content == 0 {
                    Stage::Trailer
                } else {
                    Stage::Content
                };
                local_header()
            }
            Stage::Content => {
                let n = (max.max(1) as u64).min(self.remaining) as usize;
                let mut buf = BytesMut::zeroed(n);
                // The generator draws whole 4-byte words: the bytes of a
                // word a chunk ends inside are kept for the next one, so
                // the content is the same however it is cut.
                let k = self.spare.len().min(n);
                buf[..k].copy_from_slice(&self.spare[..k]);
                self.spare.drain(..k);
                let rest = &mut buf[k..];
                let whole = rest.len() / 4 * 4;
                self.rng.fill_bytes(&mut rest[..whole]);
                if whole < rest.len() {
                    let mut word = [0u8; 4];
                    self.rng.fill_bytes(&mut word);
                    let t = rest.len() - whole;
                    rest[whole..].copy_from_slice(&word[..t]);
                    self.spare.extend_from_slice(&word[t..]);
                }
                self.crc.update(&buf);
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    self.stage = Stage::Trailer;
                }
                buf.freeze()
            }
            Stage::Trailer => {
                self.stage = Stage::Done;
                let crc = self.crc.clone().finalize();
                trailer(crc, self.content)
            }
            Stage::Done => return None,
        };
        self.sha1.update(&chunk);
        if self.stage == Stage::Done {
            let sha = std::mem::take(&mut self.sha1).finalize();
            self.digest = Some(hex(&sha));
        }
        Some(chunk)
    }

    /// The SHA-1 of every byte, lowercase hex as Octopus's `Hash`, once the
    /// stream has ended.
    pub fn sha1_hex(&self) -> Option<&str> {
        self.digest.as_deref()
    }
}

fn local_header() -> Bytes {
    let mut b = BytesMut::with_capacity(LOCAL_LEN as usize);
    b.put_u32_le(0x0403_4b50);
    b.put_u16_le(ZIP64_VERSION);
    b.put_u16_le(FLAGS);
    b.put_u16_le(0); // stored
    b.put_u16_le(0); // time
    b.put_u16_le(DOS_DATE);
    b.put_u32_le(0); // CRC: in the data descriptor
    b.put_u32_le(u32::MAX); // sizes: in the ZIP64 extra and the descriptor
    b.put_u32_le(u32::MAX);
    b.put_u16_le(ENTRY.len() as u16);
    b.put_u16_le(20);
    b.put_slice(ENTRY.as_bytes());
    // ZIP64 extra: its presence says the descriptor's sizes are 8 bytes.
    b.put_u16_le(0x0001);
    b.put_u16_le(16);
    b.put_u64_le(0);
    b.put_u64_le(0);
    b.freeze()
}

fn trailer(crc: u32, size: u64) -> Bytes {
    let mut b = BytesMut::with_capacity((DESCRIPTOR_LEN + CENTRAL_LEN + END_LEN) as usize);
    // Data descriptor.
    b.put_u32_le(0x0807_4b50);
    b.put_u32_le(crc);
    b.put_u64_le(size);
    b.put_u64_le(size);
    // Central directory, one entry.
    let central_at = LOCAL_LEN + size + DESCRIPTOR_LEN;
    b.put_u32_le(0x0201_4b50);
    b.put_u16_le(ZIP64_VERSION | (3 << 8)); // made by: Unix
    b.put_u16_le(ZIP64_VERSION);
    b.put_u16_le(FLAGS);
    b.put_u16_le(0);
    b.put_u16_le(0);
    b.put_u16_le(DOS_DATE);
    b.put_u32_le(crc);
    b.put_u32_le(u32::MAX);
    b.put_u32_le(u32::MAX);
    b.put_u16_le(ENTRY.len() as u16);
    b.put_u16_le(28);
    b.put_u16_le(0); // comment
    b.put_u16_le(0); // disk
    b.put_u16_le(0); // internal attributes
    b.put_u32_le(0o100644 << 16); // a regular file, rw-r--r--
    b.put_u32_le(u32::MAX); // offset: in the ZIP64 extra
    b.put_slice(ENTRY.as_bytes());
    b.put_u16_le(0x0001);
    b.put_u16_le(24);
    b.put_u64_le(size);
    b.put_u64_le(size);
    b.put_u64_le(0);
    // ZIP64 end of central directory record and its locator.
    let end_at = central_at + CENTRAL_LEN;
    b.put_u32_le(0x0606_4b50);
    b.put_u64_le(44);
    b.put_u16_le(ZIP64_VERSION | (3 << 8));
    b.put_u16_le(ZIP64_VERSION);
    b.put_u32_le(0);
    b.put_u32_le(0);
    b.put_u64_le(1);
    b.put_u64_le(1);
    b.put_u64_le(CENTRAL_LEN);
    b.put_u64_le(central_at);
    b.put_u32_le(0x0706_4b50);
    b.put_u32_le(0);
    b.put_u64_le(end_at);
    b.put_u32_le(1);
    // The classic end record, pointing readers to the ZIP64 one.
    b.put_u32_le(0x0605_4b50);
    b.put_u16_le(0);
    b.put_u16_le(0);
    b.put_u16_le(1);
    b.put_u16_le(1);
    b.put_u32_le(u32::MAX);
    b.put_u32_le(u32::MAX);
    b.put_u16_le(0);
    b.freeze()
}

/// The multipart framing around one file part named `file`.
#[derive(Debug, Clone)]
pub struct Multipart {
    /// The boundary, for the Content-Type header.
    pub boundary: String,
    /// Everything before the file's bytes.
    pub head: Bytes,
    /// Everything after them.
    pub tail: Bytes,
}

impl Multipart {
    /// Framing for a file part with this name; the boundary is derived from
    /// the seed, 40 characters the content would have to repeat exactly.
    pub fn new(file_name: &str, seed: u64) -> Self {
        let boundary = format!(
            "harness-{seed:016x}-{:016x}",
            seed.rotate_left(29) ^ 0x5bd1_e995
        );
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        Self {
            boundary,
            head: Bytes::from(head),
            tail: Bytes::from(tail),
        }
    }

    /// The Content-Type header value.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The body's length around a file of `file_len` bytes.
    pub fn len(&self, file_len: u64) -> u64 {
        self.head.len() as u64 + file_len + self.tail.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(spec: &PackageSpec, max: usize) -> (Vec<u8>, String) {
        let mut s = spec.stream();
        let mut out = Vec::new();
        while let Some(c) = s.next_chunk(max) {
            out.extend_from_slice(&c);
        }
        (out, s.sha1_hex().unwrap().to_string())
    }

    /// Found by the package round-trip property test: the generator draws
    /// 4-byte words, and a chunk that ended inside one lost its rest, so
    /// the bytes depended on how the stream was cut.
    #[test]
    fn chunks_that_end_inside_a_generator_word_give_the_same_bytes() {
        let spec = PackageSpec {
            package_id: "a".into(),
            version: "0.0".into(),
            content: 28_528,
            seed: 0,
        };
        let (whole, sha) = bytes(&spec, CHUNK);
        for max in [1, 2, 3, 5, 22_489] {
            assert_eq!(
                bytes(&spec, max),
                (whole.clone(), sha.clone()),
                "chunks of {max}"
            );
        }
        assert_eq!(spec.sha1(), sha);
    }

    #[test]
    fn the_stream_is_as_long_as_announced_deterministic_and_hashed() {
        for content in [0u64, 1, 1000, CHUNK as u64 * 3 + 7] {
            let spec = PackageSpec {
                package_id: "HarnessProbe".into(),
                version: "1.0.0".into(),
                content,
                seed: 9,
            };
            let (a, sha) = bytes(&spec, CHUNK);
            assert_eq!(a.len() as u64, spec.len());
            let (b, _) = bytes(&spec, 1000);
            assert_eq!(a, b, "chunk size must not change the bytes");
            assert_eq!(sha, hex(&Sha1::digest(&a)));
        }
        let spec = |seed| PackageSpec {
            package_id: "P".into(),
            version: "1.0".into(),
            content: 4096,
            seed,
        };
        assert_ne!(bytes(&spec(1), CHUNK).0, bytes(&spec(2), CHUNK).0);
    }

    #[test]
    fn the_zip_opens_with_a_standard_reader() {
        // Python's zipfile is a strict, independent reader of ZIP64.
        let dir = tempfile::tempdir().unwrap();
        let spec = PackageSpec {
            package_id: "HarnessProbe".into(),
            version: "2.0.0".into(),
            content: 70_000,
            seed: 3,
        };
        let (zip, _) = bytes(&spec, 4096);
        let path = dir.path().join(spec.file_name());
        std::fs::write(&path, &zip).unwrap();
        let content_start = LOCAL_LEN as usize;
        let expected = &zip[content_start..content_start + 70_000];
        let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\ninfo = z.infolist()\nassert len(info) == 1 and info[0].filename == 'payload.bin' and info[0].compress_type == 0\nsys.stdout.buffer.write(z.read('payload.bin'))\n";
        let out = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, expected);
    }

    #[test]
    fn file_names_follow_octopus_rules() {
        let p = |n: &str| parse_file_name(n).map(|(i, v, e)| format!("{i}|{v}|{e}"));
        assert_eq!(
            p("hello-world.1.0.0.zip").as_deref(),
            Some("hello-world|1.0.0|.zip")
        );
        assert_eq!(
            p("HarnessProbe.1.2.3-run.ab12+meta.tar.gz").as_deref(),
            Some("HarnessProbe|1.2.3-run.ab12+meta|.tar.gz")
        );
        // The first `.<digit>` that leaves a version wins.
        assert_eq!(p("My.App.2.0.nupkg").as_deref(), Some("My.App|2.0|.nupkg"));
        assert_eq!(p("App2.1.0.zip").as_deref(), Some("App2|1.0|.zip"));
        // Five numbers are too many for a version, so the ID takes one.
        assert_eq!(
            p("app.1.2.3.4.5.zip").as_deref(),
            Some("app.1|2.3.4.5|.zip")
        );
        for bad in [
            "noversion.zip",
            "app.1.0.exe",
            ".1.0.zip",
            "app..1.0.zip",
            "../../x.1.0.zip",
            "a b.1.0.zip",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }
}
