//! Packages on the embedded cluster: a streamed upload through the LB, its
//! hash and bytes the same through every node, the overwrite modes, delete,
//! and uploads that must leave nothing behind (truncated, malformed).

use std::io::Write;
use std::time::Duration;

use harness::client::ApiKey;
use harness::package::PackageSpec;
use harness::upload::{OverwriteMode, UploadClass, Uploader, package_resource_id};
use tokio::time::timeout;

use crate::cluster::{Booted, boot, fast_spec};

const LIMIT: Duration = Duration::from_secs(60);

fn uploader(b: &Booted, base: &str) -> Uploader {
    Uploader::new(
        "test",
        base,
        ApiKey::new(b.key.clone()),
        &harness::target::Trust::System,
        Duration::from_secs(5),
        Duration::from_secs(20),
        None,
    )
    .unwrap()
}

fn spec(content: u64, version: &str) -> PackageSpec {
    PackageSpec {
        package_id: "HarnessProbe".into(),
        version: version.into(),
        content,
        seed: 11,
    }
}

/// Files under the nodes' storage, in-flight uploads included.
fn stored_files(b: &Booted) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let root = b.dir().join("shared-storage");
    for sub in ["Packages", ".incoming"] {
        if let Ok(entries) = std::fs::read_dir(root.join(sub)) {
            out.extend(entries.map(|e| e.unwrap().path()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_reads_back_byte_for_byte_through_every_node_and_deletes() {
    let b = boot(fast_spec(3)).await;
    let lb = uploader(&b, &b.cluster.lb_url());
    let p = spec(20 * 1024 * 1024 + 3, "1.0.0-it");
    let first = timeout(LIMIT, lb.attempt(&p, OverwriteMode::FailIfExists, None))
        .await
        .unwrap();
    assert_eq!(first.class, UploadClass::Accepted, "{first:?}");
    assert_eq!(first.status, Some(201));
    let sha = first.sha1.clone().unwrap();
    assert_eq!(first.server_hash.as_deref(), Some(sha.as_str()));
    assert!(first.last_byte.unwrap() <= first.done);
    let id = package_resource_id(&p);
    for node in ["n1", "n2", "n3"] {
        let direct = uploader(&b, &b.node_url(node));
        let meta = timeout(LIMIT, direct.fetch(&id))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            (meta.package_size_bytes, meta.hash.as_str()),
            (p.len(), sha.as_str())
        );
        // The .NET client's form of the ID works too.
        assert!(
            timeout(LIMIT, direct.fetch("HarnessProbe.1.0.0-it"))
                .await
                .unwrap()
                .unwrap()
                .is_some()
        );
        let (status, len, got) = timeout(LIMIT, direct.download_sha1(&id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (status, len, got.as_str()),
            (200, p.len(), sha.as_str()),
            "{node}"
        );
    }
    // The overwrite modes.
    let again = lb.attempt(&p, OverwriteMode::FailIfExists, None).await;
    assert_eq!(
        (again.class, again.status),
        (UploadClass::Exists, Some(409)),
        "{again:?}"
    );
    let ignored = lb.attempt(&p, OverwriteMode::IgnoreIfExists, None).await;
    assert_eq!(
        (ignored.class, ignored.status),
        (UploadClass::Accepted, Some(200))
    );
    let replaced = lb.attempt(&p, OverwriteMode::OverwriteExisting, None).await;
    assert_eq!(
        (replaced.class, replaced.status),
        (UploadClass::Accepted, Some(200))
    );
    assert_eq!(
        stored_files(&b).len(),
        1,
        "the replaced file is gone: {:?}",
        stored_files(&b)
    );
    // Delete: gone everywhere, file included.
    assert!(timeout(LIMIT, lb.delete(&id)).await.unwrap().unwrap());
    for node in ["n1", "n2", "n3"] {
        assert!(
            uploader(&b, &b.node_url(node))
                .fetch(&id)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(!lb.delete(&id).await.unwrap());
    assert!(stored_files(&b).is_empty(), "{:?}", stored_files(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_or_malformed_upload_leaves_no_package() {
    let b = boot(fast_spec(2)).await;
    let node = b.node_url("n1");
    let addr = node.trim_start_matches("http://").to_string();
    // A client that announces 10 MiB, sends 1 MiB and goes away.
    let head =
        "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Cut.1.0.0.zip\"\r\n\r\n";
    let announced = 10 * 1024 * 1024;
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /api/Spaces-1/packages/raw HTTP/1.1\r\nHost: x\r\nX-Octopus-ApiKey: {}\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: {announced}\r\n\r\n{head}",
        b.key
    )
    .unwrap();
    stream.write_all(&vec![7u8; 1024 * 1024]).unwrap();
    drop(stream);
    // Nothing under the package's ID, on any node, and no file left over.
    let id = "packages-Cut.1.0.0";
    let gone = crate::util::poll(Duration::from_secs(10), || {
        stored_files(&b).is_empty().then_some(())
    });
    assert!(gone.is_some(), "left behind: {:?}", stored_files(&b));
    for n in ["n1", "n2"] {
        let u = uploader(&b, &b.node_url(n));
        assert!(
            timeout(LIMIT, u.fetch(id))
                .await
                .unwrap()
                .unwrap()
                .is_none()
        );
    }

    // Malformed bodies get 400 and leave nothing either.
    let http = b.http();
    let post = |body: Vec<u8>, content_type: &str| {
        http.post(format!("{node}/api/Spaces-1/packages/raw"))
            .header("X-Octopus-ApiKey", &b.key)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let part = |name: &str| {
        format!("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\nbytes\r\n--B--\r\n")
            .into_bytes()
    };
    for (body, ct, says) in [
        (part("../../x.1.0.zip"), "multipart/form-data; boundary=B", "not a package file name"),
        (part("noversion.zip"), "multipart/form-data; boundary=B", "not a package file name"),
        (part(&"a".repeat(10_000)), "multipart/form-data; boundary=B", "FileNameTooLong"),
        (b"--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--B--\r\n".to_vec(), "multipart/form-data; boundary=B", "no file part"),
        (part("A.1.0.zip"), "application/json", "multipart/form-data"),
        (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"A.1.0.zip\"\r\n\r\nbytes".to_vec(), "multipart/form-data; boundary=B", "ended before"),
    ] {
        let resp = timeout(LIMIT, post(body, ct)).await.unwrap().unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(says), "{text}");
    }
    assert!(stored_files(&b).is_empty(), "{:?}", stored_files(&b));
}

/// `harness package` and `harness upload` end as Unix tools do: a reader
/// that closes early is no error, binary is not written to a terminal, and
/// an address where nothing listens is exit 3, as for every command that
/// cannot reach its cluster.
#[test]
fn the_package_and_upload_commands_end_as_unix_tools_do() {
    use std::io::Read;
    use std::process::{Command, Stdio};

    use crate::util::{ChildGuard, harness, run_with_timeout, wait_with_timeout};

    // `harness package 1GiB | head -c 10`.
    let mut child = ChildGuard(
        harness()
            .args(["package", "1GiB"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let mut head = [0u8; 10];
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    // The pipe's reader is gone now.
    let status = wait_with_timeout(&mut child.0, LIMIT).expect("package ended");
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!((status.code(), err.as_str()), (Some(0), ""));
    assert_eq!(&head[..2], b"PK", "a zip begins with its signature");

    // On a terminal (script gives the command one), nothing is written.
    let mut on_tty = Command::new("script");
    on_tty
        .args(["-qec"])
        .arg(format!("{} package 1KiB", env!("CARGO_BIN_EXE_harness")))
        .arg("/dev/null");
    let out = run_with_timeout(on_tty, LIMIT);
    assert_eq!(out.code(), 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("refusing to write a binary package to a terminal"),
        "{}",
        out.stdout
    );

    // Nothing listens at the address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut upload = harness();
    upload
        .args(["upload", &format!("http://{closed}"), "--size", "1KiB"])
        .env("OCTOPUS_API_KEY", "not-a-real-key");
    let out = run_with_timeout(upload, LIMIT);
    assert_eq!(out.code(), 3, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Connection refused"), "{}", out.stdout);
}

/// Starts an upload of `announced` bytes to `addr` (a node or the LB),
/// sends its first MiB and leaves the connection open: the upload is in
/// flight until the caller drops the stream.
fn upload_in_flight(addr: &str, key: &str, version: &str) -> std::net::TcpStream {
    let head = format!(
        "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"InFlight.{version}.zip\"\r\n\r\n"
    );
    let announced = 64 * 1024 * 1024;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /api/Spaces-1/packages/raw HTTP/1.1\r\nHost: x\r\nX-Octopus-ApiKey: {key}\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: {announced}\r\n\r\n{head}"
    )
    .unwrap();
    stream.write_all(&vec![7u8; 1024 * 1024]).unwrap();
    stream
}

/// The `.part` files under the nodes' incoming folder once one holds
/// bytes: the upload has reached a node and is being written.
fn wait_for_part(b: &Booted) -> Vec<std::path::PathBuf> {
    let incoming = b.dir().join("shared-storage").join(".incoming");
    crate::util::poll(LIMIT, || {
        let parts: Vec<_> = std::fs::read_dir(&incoming)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.metadata().is_ok_and(|m| m.len() > 0))
            .map(|e| e.path())
            .collect();
        (!parts.is_empty()).then_some(parts)
    })
    .expect("the upload reached a node's incoming folder")
}

/// Issue 17, interrupted runs: an upload in flight when the embedded
/// cluster is torn down leaves no partial file in its storage, though its
/// node is killed before it can remove its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r17_teardown_removes_an_upload_left_in_flight() {
    let b = boot(fast_spec(2)).await;
    let node = b.node_url("n1");
    let stream = upload_in_flight(node.trim_start_matches("http://"), &b.key, "1.0.0");
    let parts = wait_for_part(&b);
    b.cluster.shutdown();
    let left: Vec<_> = parts.iter().filter(|p| p.exists()).collect();
    assert!(left.is_empty(), "left behind after teardown: {left:?}");
    assert!(stored_files(&b).is_empty(), "{:?}", stored_files(&b));
    drop(stream);
}

/// Issue 17, interrupted runs: a client that goes away mid-upload through
/// the LB (as an interrupted harness does) leaves no partial file on the
/// node behind the LB, long before the node's stall timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r17_a_client_gone_mid_upload_through_the_lb_leaves_no_partial_file() {
    let b = boot(fast_spec(2)).await;
    let lb = b.cluster.lb_url();
    let stream = upload_in_flight(lb.trim_start_matches("http://"), &b.key, "1.0.1");
    let parts = wait_for_part(&b);
    drop(stream);
    let gone = crate::util::poll(Duration::from_secs(20), || {
        parts.iter().all(|p| !p.exists()).then_some(())
    });
    assert!(
        gone.is_some(),
        "still there 20s after the client went (the node's stall timeout is {}s): {:?}",
        reference_cluster::limits::BODY_STALL.as_secs(),
        stored_files(&b)
    );
}
