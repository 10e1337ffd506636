//! Real load balancers in front of the embedded nodes: a HAProxy or nginx
//! configuration written from the spec's LB settings, so the same
//! cluster runs through the built-in LB and through the real thing.
//!
//! The mapping, by what each knob means (docs/lb-limits.md, "Defaults
//! that break uploads"):
//!
//! | setting | HAProxy | nginx |
//! | --- | --- | --- |
//! | `max_body` | `http-request deny deny_status 413` on Content-Length | `client_max_body_size` |
//! | `backend_timeout` | `timeout server` | `proxy_read_timeout` |
//! | `idle_timeout` | `timeout client` and `timeout server`, where the two above leave them unset | `proxy_send_timeout`; `proxy_read_timeout` and `client_body_timeout` where unset |
//! | `body_read_timeout` | `timeout client` | `client_body_timeout` |
//! | `request_buffering` | `option http-buffer-request` | `proxy_request_buffering` |
//! | health checks | active: `option httpchk`, `http-check expect`, `inter`/`rise`/`fall`, `timeout check`; passive: none | passive only: `max_fails`, `fail_timeout` |
//!
//! Polling ports: HAProxy forwards them in `mode tcp`; nginx would need its
//! stream module, which Debian does not install with it, so polling
//! through nginx is refused in validation.
//!
//! Not carried over: a refusal as IIS's 404.13 (both answer 413).
//!
//! A timeout the settings leave unset is an hour, where the programs would
//! otherwise use a short default of their own (nginx) or warn (HAProxy).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::spec::{Lb, LbEngine};

/// A timeout the settings leave open.
const OPEN: Duration = Duration::from_secs(3600);

/// What the nodes are, for the configuration.
pub struct Backend<'a> {
    /// Node name.
    pub name: &'a str,
    /// Its address, `host:port` (a container's name on a Docker network
    /// will do).
    pub addr: String,
}

/// A real LB ready to start: the program, its configuration file and
/// text, and the arguments that run it in the foreground with that file.
pub struct RealLb {
    /// `haproxy` or `nginx`.
    pub program: &'static str,
    /// Where the configuration goes.
    pub file: PathBuf,
    /// The configuration.
    pub text: String,
    /// The program's arguments.
    pub args: Vec<String>,
}

/// The configuration of `lb`'s engine for its settings; None for the
/// built-in LB.
pub fn config(
    lb: &Lb,
    listen: SocketAddr,
    backends: &[Backend<'_>],
    tcp: &[crate::lb::TcpForward],
    dir: &Path,
) -> Option<RealLb> {
    Some(match lb.engine {
        LbEngine::Builtin => return None,
        LbEngine::Haproxy => {
            let file = dir.join("haproxy.cfg");
            RealLb {
                program: "haproxy",
                args: vec!["-f".into(), file.display().to_string(), "-db".into()],
                text: haproxy(lb, listen, backends, tcp),
                file,
            }
        }
        LbEngine::Nginx => {
            let file = dir.join("nginx.conf");
            RealLb {
                program: "nginx",
                args: vec![
                    "-c".into(),
                    file.display().to_string(),
                    "-p".into(),
                    dir.display().to_string(),
                    "-e".into(),
                    dir.join("nginx-error.log").display().to_string(),
                ],
                text: nginx(lb, listen, backends, dir),
                file,
            }
        }
    })
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

fn secs(d: Duration) -> String {
    // nginx takes whole seconds in these directives; round up.
    format!("{}s", d.as_millis().div_ceil(1000).max(1))
}

fn haproxy(
    lb: &Lb,
    listen: SocketAddr,
    backends: &[Backend<'_>],
    tcp: &[crate::lb::TcpForward],
) -> String {
    let l = lb.limits;
    let client = l.body_read_timeout.or(l.idle_timeout).unwrap_or(OPEN);
    let server = l.backend_timeout.or(l.idle_timeout).unwrap_or(OPEN);
    let mut c = String::new();
    let _ = writeln!(c, "global\n  maxconn 4096\n");
    let _ = writeln!(
        c,
        "defaults\n  mode http\n  timeout connect 10s\n  timeout client {}\n  timeout server {}\n",
        ms(client),
        ms(server)
    );
    let _ = writeln!(c, "frontend fe\n  bind {listen}\n  default_backend nodes");
    if let Some(max) = l.max_body {
        let _ = writeln!(
            c,
            "  http-request deny deny_status 413 if {{ req.hdr_val(content-length) gt {max} }}"
        );
    }
    if l.request_buffering {
        let _ = writeln!(c, "  option http-buffer-request");
    }
    let _ = writeln!(c, "\nbackend nodes\n  balance roundrobin");
    let hc = &lb.health;
    let active = hc.enabled && !hc.passive;
    if active {
        let codes: Vec<String> = hc
            .accept
            .iter()
            .flat_map(|(lo, hi)| *lo..=*hi)
            .map(|c| c.to_string())
            .collect();
        let _ = writeln!(
            c,
            "  option httpchk GET {}\n  http-check expect rstatus ^({})$\n  timeout check {}",
            hc.path,
            codes.join("|"),
            ms(Duration::from_millis(hc.timeout_ms))
        );
    }
    for b in backends {
        let check = if active {
            format!(
                " check inter {} rise {} fall {}",
                ms(Duration::from_millis(hc.interval_ms)),
                hc.healthy_threshold,
                hc.unhealthy_threshold
            )
        } else {
            String::new()
        };
        let _ = writeln!(c, "  server {} {}{check}", b.name, b.addr);
    }
    // Polling ports, passed through at L4 so TLS ends at the node.
    for (i, f) in tcp.iter().enumerate() {
        let _ = writeln!(
            c,
            "\nlisten polling{i}\n  mode tcp\n  bind {}\n  balance roundrobin\n  timeout client {}\n  timeout server {}",
            f.listen,
            ms(OPEN),
            ms(OPEN)
        );
        for (k, b) in f.backends.iter().enumerate() {
            let _ = writeln!(c, "  server p{k} {b}");
        }
    }
    c
}

fn nginx(lb: &Lb, listen: SocketAddr, backends: &[Backend<'_>], dir: &Path) -> String {
    let l = lb.limits;
    let hc = &lb.health;
    let read = l.backend_timeout.or(l.idle_timeout).unwrap_or(OPEN);
    let send = l.idle_timeout.unwrap_or(OPEN);
    let body = l.body_read_timeout.or(l.idle_timeout).unwrap_or(OPEN);
    let d = dir.display();
    let mut c = String::new();
    // One process in the foreground: nothing to daemonise, no workers that
    // drop privileges away from the cluster's folder.
    let _ = writeln!(
        c,
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\nevents {{ worker_connections 4096; }}\nhttp {{"
    );
    let _ = writeln!(
        c,
        "  access_log off;\n  client_body_temp_path {d}/nginx-body;\n  proxy_temp_path {d}/nginx-proxy;\n  fastcgi_temp_path {d}/nginx-fastcgi;\n  uwsgi_temp_path {d}/nginx-uwsgi;\n  scgi_temp_path {d}/nginx-scgi;"
    );
    let (fails, fail_timeout) = if hc.enabled {
        (hc.max_fails, Duration::from_millis(hc.fail_timeout_ms))
    } else {
        // Never out of rotation.
        (0, Duration::from_secs(10))
    };
    let _ = writeln!(c, "  upstream nodes {{");
    for b in backends {
        let _ = writeln!(
            c,
            "    server {} max_fails={fails} fail_timeout={};",
            b.addr,
            secs(fail_timeout)
        );
    }
    let _ = writeln!(c, "  }}");
    let max = l.max_body.map_or("0".to_string(), |m| m.to_string());
    let _ = writeln!(
        c,
        "  server {{\n    listen {listen};\n    client_max_body_size {max};\n    client_body_timeout {};\n    proxy_request_buffering {};\n    proxy_read_timeout {};\n    proxy_send_timeout {};\n    proxy_http_version 1.1;\n    proxy_set_header Connection \"\";\n    proxy_set_header Host $host;\n    location / {{ proxy_pass http://nodes; }}\n  }}\n}}",
        secs(body),
        if l.request_buffering { "on" } else { "off" },
        secs(read),
        secs(send)
    );
    c
}
