//! `report.html`: the report as one self-contained page, viewable offline.
//! No script or style is fetched; the charts are inline SVG drawn here, so
//! the page is the same in any browser and in an artifact store years later.
//! It shows the verdict table, throughput and latency over time with the
//! warm-up and fault windows shaded, each node's share of requests, and the
//! uploads, tasks and polling fan-out where the run had them.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::{FaultOutcome, FaultReport, Report};
use super::timeline::TimelinePoint;

mod capacity;
mod chart;
mod sweep;

pub use sweep::sweep_html;

use chart::{
    BOTTOM, HEIGHT, LEFT, RENDER_PROBE, RIGHT, STYLE, TOP, WIDTH, axis_x, chart_open, esc, fmt_num,
    grid_y, nice_axis, series,
};

/// The page for a report.
pub fn html(r: &Report) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let title = format!("{}: {}", r.scenario, r.verdict.as_str().to_uppercase());
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&title)
    );
    let _ = writeln!(
        o,
        "<h1>{} <span id=\"verdict\" class=\"badge {v}\">{V}</span></h1>\
         <p class=\"meta\">target {} · seed {} · started {} · booted in {:.2} s · harness {}</p>",
        esc(&r.scenario),
        esc(&r.target),
        r.seed,
        esc(&r.started_at),
        r.boot_s,
        esc(&r.harness_version),
        v = r.verdict.as_str(),
        V = r.verdict.as_str().to_uppercase(),
    );
    if let Some(why) = &r.interrupted {
        let during = r
            .interrupted_phase
            .as_ref()
            .map(|p| format!(" during {}", esc(p)))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "<p class=\"fail\">Interrupted: {}{during}. An interrupted run proves nothing either way.</p>",
            esc(why)
        );
        for u in &r.uploads_in_flight {
            let _ = writeln!(
                o,
                "<p class=\"fail\">Upload in flight when the run stopped: {} (upload {}, attempt {}, via {}).</p>",
                esc(&u.file),
                u.seq,
                u.attempt + 1,
                esc(&u.via)
            );
        }
    }
    checks(&mut o, r);
    for c in &r.capacity {
        capacity::capacity(&mut o, c);
    }
    metrics(&mut o, r);
    // A search judges the generator step by step instead.
    if let (true, Some(g)) = (r.capacity.is_empty(), &r.generator) {
        capacity::generator(&mut o, g);
    }
    over_time(&mut o, r);
    nodes(&mut o, r);
    tasks(&mut o, r);
    uploads(&mut o, r);
    polling(&mut o, r);
    faults_and_cleanup(&mut o, r);
    let _ = write!(o, "<script>{RENDER_PROBE}</script>\n</body></html>\n");
    o
}

fn checks(o: &mut String, r: &Report) {
    o.push_str("<h2>Checks</h2><table id=\"checks\"><tr><th>check</th><th>kind</th><th>verdict</th><th>detail</th></tr>\n");
    for c in &r.checks {
        // A check named for its kind says it once.
        let kind = if c.kind == c.name { "" } else { &c.kind };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"{v}\">{V}</td><td>{}</td></tr>",
            esc(&c.name),
            esc(kind),
            esc(&c.detail),
            v = c.verdict.as_str(),
            V = c.verdict.as_str().to_uppercase(),
        );
    }
    o.push_str("</table>\n");
}

fn metrics(o: &mut String, r: &Report) {
    let m = &r.metrics;
    // A run without requests (a polling fleet alone) has no throughput to
    // show; its fleet has its own section.
    if m.requests == 0 {
        return;
    }
    let _ = writeln!(
        o,
        "<h2>Requests</h2><table><tr><th>requests</th><th>errors</th><th>indeterminate</th>\
         <th>per second</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>\
         <tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{:.1}</td><td class=\"num\">{:.2} ms</td><td class=\"num\">{:.2} ms</td>\
         <td class=\"num\">{:.2} ms</td><td class=\"num\">{:.2} ms</td></tr></table>\
         <p class=\"meta\">Over the {:.1} s after warm-up. Latency of successful requests from \
         their intended start, from HDR histograms with {} significant figures.</p>",
        m.requests,
        m.errors,
        m.indeterminate,
        m.rps,
        m.latency_ms.p50,
        m.latency_ms.p90,
        m.latency_ms.p99,
        m.latency_ms.max,
        m.duration_s,
        m.latency_ms.significant_figures,
    );
}

/// The x range every time chart shares: from 0 to the last second seen in
/// the timeline or a fault.
fn time_span(r: &Report) -> f64 {
    let points = r.timeline.as_ref().map(|t| &t.points[..]).unwrap_or(&[]);
    let last_point = points.last().map(|p| p.t_s as f64 + 1.0).unwrap_or(0.0);
    let last_fault = r
        .faults
        .iter()
        .map(|f| f.end_s.unwrap_or(f.start_s))
        .fold(0.0, f64::max);
    last_point.max(last_fault).max(1.0)
}

fn over_time(o: &mut String, r: &Report) {
    let Some(t) = r.timeline.as_ref().filter(|t| !t.points.is_empty()) else {
        return;
    };
    let span = time_span(r);
    let x = |s: f64| LEFT + (WIDTH - LEFT - RIGHT) * (s / span);

    // Throughput: successes and errors per second, linear, over whole
    // seconds only: the run's first and last seconds are partly outside
    // it, and their counts are no rate (a last 0.4 s of 300/s is 120).
    let whole: Vec<&TimelinePoint> = t.points.iter().filter(|p| p.covered_s >= 1.0).collect();
    let top = whole
        .iter()
        .map(|p| p.ok.max(p.errors))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (y_max, step) = nice_axis(top);
    let y = |v: f64| HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * (v / y_max);
    o.push_str(
        "<h2>Throughput over time</h2><p class=\"meta\">Whole seconds only: the run's first \
         and last seconds, which it spans only in part, are left out.</p>\n",
    );
    legend(
        o,
        &[("ok", "successes per second"), ("err", "errors per second")],
    );
    chart_open(o, "throughput", "requests completed per second");
    shading(o, r, t.measured_from_s, &x);
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        grid_y(o, y(v), &fmt_num(v));
        v += step;
    }
    axis_x(o, span, &x);
    series(
        o,
        "ok",
        whole
            .iter()
            .map(|p| Some((x(p.t_s as f64 + 0.5), y(p.ok as f64)))),
    );
    series(
        o,
        "err",
        whole
            .iter()
            .map(|p| Some((x(p.t_s as f64 + 0.5), y(p.errors as f64)))),
    );
    o.push_str("</svg>\n");

    // Latency: p50 and p99 per second, on a log scale so a 5 s timeout and
    // a 2 ms median both read.
    let values = t.points.iter().flat_map(|p| [p.p50_ms, p.p99_ms]).flatten();
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi <= 0.0 {
        return;
    }
    let lo_exp = lo.max(0.001).log10().floor();
    let hi_exp = hi.log10().ceil().max(lo_exp + 1.0);
    let y = |ms: f64| {
        let f = (ms.max(0.001).log10() - lo_exp) / (hi_exp - lo_exp);
        HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * f
    };
    let _ = writeln!(
        o,
        "<h2>Latency over time</h2><p class=\"meta\">Each second's percentiles from its own \
         histogram ({} significant figures); log scale.</p>",
        t.significant_figures
    );
    legend(o, &[("p50", "p50"), ("p99", "p99")]);
    chart_open(o, "latency", "latency in milliseconds, log scale");
    shading(o, r, t.measured_from_s, &x);
    // Decades, and 2 and 5 between them when there are few decades.
    let marks: &[f64] = if hi_exp - lo_exp <= 3.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let mut e = lo_exp;
    while e <= hi_exp + 1e-9 {
        for m in marks {
            let v = m * 10f64.powf(e);
            if v <= 10f64.powf(hi_exp) * 1.000_001 {
                grid_y(o, y(v), &format!("{} ms", fmt_num(v)));
            }
        }
        e += 1.0;
    }
    axis_x(o, span, &x);
    series(
        o,
        "p50",
        t.points
            .iter()
            .map(|p| p.p50_ms.map(|v| (x(p.t_s as f64 + 0.5), y(v)))),
    );
    series(
        o,
        "p99",
        t.points
            .iter()
            .map(|p| p.p99_ms.map(|v| (x(p.t_s as f64 + 0.5), y(v)))),
    );
    o.push_str("</svg>\n");
}

fn nodes(o: &mut String, r: &Report) {
    if r.nodes.is_empty() {
        return;
    }
    // Without a ping through the LB there is no share to draw: a table of
    // the nodes instead, with the fleet's fan-out where there is one.
    if r.nodes.iter().all(|n| n.pings_served == 0) {
        node_table(o, r);
        return;
    }
    let row = 26.0;
    let height = TOP + BOTTOM / 2.0 + row * r.nodes.len() as f64;
    let bar_w = WIDTH - LEFT - RIGHT - 120.0;
    o.push_str("<h2>Share of requests by node</h2>\n");
    let _ = writeln!(
        o,
        "<svg class=\"chart\" id=\"chart-nodes\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" \
         height=\"{height}\" role=\"img\"><title>share of successful pings served by each node</title>"
    );
    for (i, n) in r.nodes.iter().enumerate() {
        let y = TOP + row * i as f64;
        let _ = writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect class=\"series share\" x=\"{LEFT}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{:.1}% · {} served · started {}×{}</text>",
            LEFT - 8.0,
            y + row * 0.6,
            esc(&n.name),
            // A node with no share still gets a hairline, so it is seen.
            (bar_w * n.share).max(1.0),
            row * 0.7,
            LEFT + (bar_w * n.share).max(1.0) + 6.0,
            y + row * 0.6,
            n.share * 100.0,
            n.pings_served,
            n.starts,
            match &n.cluster_name {
                Some(c) if *c != n.name => format!(" · the cluster's {}", esc(c)),
                _ => String::new(),
            },
        );
    }
    o.push_str("</svg>\n");
}

/// The nodes, without shares: for a run that sent no ping through the LB.
fn node_table(o: &mut String, r: &Report) {
    let fleet = r.polling.as_ref();
    o.push_str(
        "<h2>Nodes</h2><table id=\"nodes\"><tr><th>node</th><th>address</th><th>started</th>",
    );
    if fleet.is_some() {
        o.push_str("<th>Tentacles connected</th>");
    }
    o.push_str("</tr>\n");
    for n in &r.nodes {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}×</td>",
            esc(&n.label()),
            esc(&n.address),
            n.starts
        );
        if let Some(p) = fleet {
            let connected = p.connected_to(&n.name);
            let _ = write!(o, "<td class=\"num\">{connected} / {}</td>", p.tentacles);
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
}

fn tasks(o: &mut String, r: &Report) {
    let Some(t) = &r.tasks else { return };
    let _ = writeln!(
        o,
        "<h2>Tasks</h2><table><tr><th>submitted</th><th>submit failures</th><th>ended per second</th>\
         <th>pick-up p50</th><th>pick-up p99</th></tr><tr><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{:.2}</td><td class=\"num\">{:.1} ms</td><td class=\"num\">{:.1} ms</td></tr></table>",
        t.submitted, t.submit_failures, t.throughput_per_s, t.pickup_ms.p50, t.pickup_ms.p99,
    );
    o.push_str("<table><tr><th>by state</th>");
    for s in t.by_state.keys() {
        let _ = write!(o, "<th>{}</th>", esc(s));
    }
    o.push_str("</tr><tr><td></td>");
    for n in t.by_state.values() {
        let _ = write!(o, "<td class=\"num\">{n}</td>");
    }
    o.push_str("</tr></table><table><tr><th>ran on</th>");
    for s in t.by_node.keys() {
        let _ = write!(o, "<th>{}</th>", esc(s));
    }
    o.push_str("</tr><tr><td></td>");
    for n in t.by_node.values() {
        let _ = write!(o, "<td class=\"num\">{n}</td>");
    }
    o.push_str("</tr></table>\n");
}

fn uploads(o: &mut String, r: &Report) {
    if r.uploads.is_empty() {
        return;
    }
    o.push_str(
        "<h2>Uploads</h2><table><tr><th>#</th><th>purpose</th><th>file</th><th>MiB</th><th>via</th>\
         <th>attempts</th><th>outcome</th><th>MiB/s</th><th>intact on</th><th>deleted</th></tr>\n",
    );
    for u in &r.uploads {
        let outcome = match (&u.status, &u.error) {
            (Some(s), _) => format!("{} ({s})", word(&u.class)),
            (None, Some(e)) => format!("{}: {e}", word(&u.class)),
            (None, None) => word(&u.class),
        };
        let _ = writeln!(
            o,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.1}</td><td>{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            u.seq,
            word(&u.purpose),
            esc(&u.file),
            u.size as f64 / (1024.0 * 1024.0),
            esc(&u.via),
            u.attempts,
            esc(&outcome),
            u.mib_s.map(|v| format!("{v:.1}")).unwrap_or_default(),
            esc(&u.intact_on.join(", ")),
            if u.deleted { "yes" } else { "no" },
        );
    }
    o.push_str("</table>\n");
}

fn polling(o: &mut String, r: &Report) {
    let Some(p) = &r.polling else { return };
    let _ = writeln!(
        o,
        "<h2>Polling Tentacles</h2><p class=\"meta\">{} Tentacles, {} connection(s) each per endpoint; \
         full fan-out {}; {} connection attempts, {} failed.</p>",
        p.tentacles,
        p.connections,
        p.time_to_full_fan_out_s
            .map(|s| format!("after {s:.2} s"))
            .unwrap_or_else(|| "never reached".into()),
        p.connection_attempts,
        p.failed_attempts,
    );
    o.push_str(
        "<table id=\"fan-out\"><tr><th>node</th><th>Tentacles connected</th><th>health checks passed</th>\
         <th>health checks failed</th></tr>\n",
    );
    for n in &p.nodes {
        let class = |have: u64, want: u64| {
            if want > 0 && have >= want {
                "full"
            } else if have > 0 {
                "part"
            } else {
                "none"
            }
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"num {}\">{} / {}</td><td class=\"num {}\">{}</td>\
             <td class=\"num {}\">{}</td></tr>",
            esc(&n.node),
            class(n.tentacles_connected, p.tentacles),
            n.tentacles_connected,
            p.tentacles,
            class(n.health_ok, n.health_ok + n.health_failed),
            n.health_ok,
            if n.health_failed == 0 { "full" } else { "none" },
            n.health_failed,
        );
    }
    o.push_str("</table>\n");
    if let Some(rpc) = &p.rpc_ms {
        let _ = writeln!(
            o,
            "<p class=\"meta\">RPC round trip p50 {:.1} ms, p99 {:.1} ms over {} calls.</p>",
            rpc.p50, rpc.p99, rpc.count
        );
    }
}

fn faults_and_cleanup(o: &mut String, r: &Report) {
    if !r.faults.is_empty() {
        o.push_str("<h2>Faults</h2><table><tr><th>fault</th><th>kind</th><th>nodes</th><th>from</th><th>to</th><th>outcome</th></tr>\n");
        for f in &r.faults {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.2} s</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&f.name),
                esc(&f.kind),
                esc(&f.nodes.join(", ")),
                f.start_s,
                f.end_s
                    .map(|s| format!("{s:.2} s"))
                    .unwrap_or_else(|| "never healed".into()),
                esc(&fault_outcome(f)),
            );
        }
        o.push_str("</table>\n");
    }
    if let Some(c) = &r.cpu_limit {
        let _ = writeln!(
            o,
            "<p class=\"meta\">Each node was limited to {} CPUs ({} asked) by {}.</p>",
            c.cores_per_node,
            c.asked,
            esc(&c.method)
        );
    }
    if !r.memory.is_empty() {
        o.push_str("<h2>Peak memory</h2><table><tr>");
        for m in &r.memory {
            let _ = write!(o, "<th>{}</th>", esc(&m.process));
        }
        o.push_str("</tr><tr>");
        for m in &r.memory {
            let _ = write!(o, "<td class=\"num\">{:.1} MiB</td>", m.peak_rss_mib);
        }
        o.push_str("</tr></table>\n");
    }
    if let Some(c) = &r.cleanup {
        let left = c.left_behind();
        let unsure = c.unconfirmed();
        let outcomes = c.package_outcomes();
        let _ = write!(
            o,
            "<h2>Clean-up</h2><p>Run ID {}: {} packages{}, {} machines, {} tasks created. ",
            esc(&c.run_id),
            c.packages.len(),
            if outcomes.is_empty() {
                String::new()
            } else {
                format!(" ({})", esc(&outcomes))
            },
            c.machines.len(),
            c.tasks.len()
        );
        if left.is_empty() && unsure.is_empty() {
            o.push_str("<span class=\"pass\">Nothing left behind.</span></p>\n");
        } else {
            o.push_str(if left.is_empty() {
                "<span class=\"fail\">Not confirmed gone:</span></p><ul>"
            } else {
                "<span class=\"fail\">Left behind:</span></p><ul>"
            });
            for l in left.iter().chain(&unsure) {
                let _ = write!(o, "<li>{}</li>", esc(l));
            }
            o.push_str("</ul>\n");
        }
    }
}

fn legend(o: &mut String, items: &[(&str, &str)]) {
    o.push_str("<div class=\"legend\">");
    for (class, label) in items {
        let colour = match *class {
            "err" => "#c62828",
            "p99" => "#e07b00",
            _ => "#1f6fd1",
        };
        let _ = write!(
            o,
            "<span class=\"swatch\" style=\"background:{colour}\"></span>{}",
            esc(label)
        );
    }
    o.push_str(
        "<span class=\"swatch\" style=\"background:#eef0f4;height:10px\"></span>warm-up\
         <span class=\"swatch\" style=\"background:#fbe1e1;height:10px\"></span>fault</div>\n",
    );
}

/// A fault's outcome as recorded, and its undo's if that failed.
fn fault_outcome(f: &FaultReport) -> String {
    let mut text = f.outcome.as_str().to_string();
    if let Some(e) = &f.error {
        let _ = write!(text, ": {e}");
    }
    if let Some(e) = &f.heal_error {
        let _ = write!(text, "; undo failed: {e}");
    }
    text
}

/// The warm-up and every fault window, behind the series.
fn shading(o: &mut String, r: &Report, warmup_end: f64, x: &dyn Fn(f64) -> f64) {
    let (y0, h) = (TOP, HEIGHT - TOP - BOTTOM);
    if warmup_end > 0.0 {
        let _ = writeln!(
            o,
            "<rect class=\"warmup\" x=\"{:.1}\" y=\"{y0}\" width=\"{:.1}\" height=\"{h}\"/>",
            x(0.0),
            x(warmup_end) - x(0.0)
        );
    }
    let span_end = time_span(r);
    for f in &r.faults {
        let (a, b) = (x(f.start_s), x(f.end_s.unwrap_or(span_end)));
        let _ = writeln!(
            o,
            "<rect class=\"fault\" x=\"{a:.1}\" y=\"{y0}\" width=\"{:.1}\" height=\"{h}\">\
             <title>{}</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            (b - a).max(1.0),
            esc(&format!("{} ({})", f.name, fault_outcome(f))),
            a + 3.0,
            TOP + 11.0,
            esc(&match f.outcome {
                FaultOutcome::Done => f.name.clone(),
                other => format!("{} ({})", f.name, other.as_str()),
            }),
        );
    }
}

/// The YAML and JSON spelling of a unit enum.
fn word<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
pub(in crate::report) mod tests;
