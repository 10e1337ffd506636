//! The upload hot paths, in GiB/s: the package generator (seeded bytes,
//! CRC-32 and SHA-1 as they go), and the reference node's multipart reader
//! (boundary search). Peers in the same run: SHA-1 alone over the same
//! number of bytes, and a plain copy of the bytes the reader scans.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harness::package::{CHUNK, Multipart, PackageSpec};
use reference_cluster::multipart::MultipartReader;
use sha1::Digest;

const SIZE: u64 = 64 << 20;

fn spec() -> PackageSpec {
    PackageSpec {
        package_id: "HarnessProbe".into(),
        version: "1.0.0".into(),
        content: SIZE,
        seed: 5,
    }
}

/// A request body made of ready chunks.
struct Chunks(VecDeque<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("package");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(spec().len()));
    g.bench_function("generate_64mib_with_crc_and_sha1", |b| {
        b.iter(|| {
            let mut s = spec().stream();
            while s.next_chunk(CHUNK).is_some() {}
            s.sha1_hex().map(str::len)
        })
    });
    let data = vec![0x5au8; spec().len() as usize];
    g.bench_function("sha1_alone_64mib", |b| {
        b.iter(|| sha1::Sha1::digest(std::hint::black_box(&data)))
    });
    // The body as the node receives it, in 64 KiB frames.
    let m = Multipart::new(&spec().file_name(), 5);
    let mut body = Vec::with_capacity(m.len(spec().len()) as usize);
    body.extend_from_slice(&m.head);
    let mut s = spec().stream();
    while let Some(chunk) = s.next_chunk(CHUNK) {
        body.extend_from_slice(&chunk);
    }
    body.extend_from_slice(&m.tail);
    let frames: VecDeque<Bytes> = body.chunks(64 * 1024).map(Bytes::copy_from_slice).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    g.bench_function("multipart_read_64mib", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut r = MultipartReader::new(Chunks(frames.clone()), &m.boundary);
                let mut n = 0usize;
                while let Some(_part) = r.next_part().await.unwrap() {
                    r.read_part(|b| {
                        n += b.len();
                        Ok(())
                    })
                    .await
                    .unwrap();
                }
                n
            })
        })
    });
    g.bench_function("copy_alone_64mib", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(body.len());
            for f in &frames {
                out.extend_from_slice(f);
            }
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
