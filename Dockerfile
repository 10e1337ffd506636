# The harness as a container image, for the shards of a split run on
# Kubernetes (`harness kube`, docs/shards.md). Two stages: the build, on
# Rust's image; the image itself, Debian slim with the one binary, its CA
# roots, and a shell for the target file's commands (run with `sh -c`),
# as a user that is not root.
#
#   docker build -t registry.example.com/harness:0.1.0 .

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin harness

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 harness \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin harness
COPY --from=build /src/target/release/harness /usr/local/bin/harness
# Numeric, so that Kubernetes' runAsNonRoot can see it is not root.
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/harness"]
