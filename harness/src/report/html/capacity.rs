//! The capacity search on a run's page: the conclusion, each node
//! count's steps as a table, the latency-against-offered-load curve with
//! the objective drawn, and capacity against node count with the fitted
//! scaling law and its predictions; and the generator's self-check.

use std::fmt::Write as _;

use super::chart::{
    BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, axis_values, chart_open, esc, fmt_num, grid_y,
    nice_axis, series,
};
use crate::metrics::{CapacityReport, GeneratorFigures, StepVerdict, amount, rate};
use crate::scenario::SearchKind;

/// The series classes, one per node count.
const LEVELS: [&str; 4] = ["lvl0", "lvl1", "lvl2", "lvl3"];

pub(super) fn capacity(o: &mut String, c: &CapacityReport) {
    let name = c.search.name();
    let measured = match c.search {
        SearchKind::Api => {
            "Each step offers an open-model rate; the p50 and p99 are of the latency, from each request's intended start, so a saturated cluster shows in them."
        }
        SearchKind::Tasks => {
            "Each step offers an open-model rate; the p50 and p99 are of each task's pick-up (or duration), from its intended submission, so a queue that grows shows in them."
        }
        SearchKind::Uploads => {
            "Each step keeps that many uploads going at once, one after another; the p50 and p99 are of each upload's duration, from its start (connecting included) to its answer, and achieved is the MiB/s that got through."
        }
    };
    let _ = writeln!(
        o,
        "<h2>Capacity search: {name}</h2><p id=\"capacity-{name}-conclusion\"><strong>{}</strong></p>\
         <p class=\"meta\">Objective: {}. {measured} A step where the generator fell behind is \
         generator-bound and says nothing of the cluster.</p>",
        esc(&c.conclusion),
        esc(&c.objective),
    );
    for level in &c.levels {
        let drained = if level.drained.is_empty() {
            String::new()
        } else {
            format!(", {} drained", level.drained.join(", "))
        };
        let _ = writeln!(
            o,
            "<h3>{} node{}{}</h3><table class=\"capacity-steps\"><tr><th>offered ({})</th><th>achieved ({})</th>\
             <th>p50</th><th>p99</th><th>errors</th><th>send lag p99</th><th>generator CPU</th><th>verdict</th><th>why</th></tr>",
            level.nodes,
            if level.nodes == 1 { "" } else { "s" },
            esc(&drained),
            esc(&c.unit),
            esc(&c.achieved_unit)
        );
        for s in &level.steps {
            let class = match s.verdict {
                StepVerdict::Met => "pass",
                StepVerdict::Missed => "fail",
                StepVerdict::GeneratorBound => "unknown",
            };
            let word = s.verdict.word();
            let _ = writeln!(
                o,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2} ms</td>\
                 <td class=\"num\">{:.2} ms</td><td class=\"num\">{:.1}%</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"{class}\">{word}</td><td>{}</td></tr>",
                rate(s.offered),
                rate(s.achieved),
                s.p50_ms,
                s.p99_ms,
                s.error_rate * 100.0,
                s.generator
                    .lag_p99_ms()
                    .map_or_else(|| "-".to_string(), |l| format!("{l:.2} ms")),
                s.generator
                    .cpu_share
                    .map_or_else(|| "-".to_string(), |c| format!("{:.0}%", c * 100.0)),
                esc(&s.why)
            );
        }
        let _ = writeln!(o, "</table><p class=\"meta\">{}</p>", esc(&level.limit));
    }
    latency_curve(o, c);
    scaling(o, c);
}

/// p99 against the offered rate, a line per node count, the objective
/// drawn across.
fn latency_curve(o: &mut String, c: &CapacityReport) {
    let steps = c.levels.iter().flat_map(|l| &l.steps);
    let top_x = steps.clone().map(|s| s.offered).fold(0.0, f64::max);
    if top_x <= 0.0 {
        return;
    }
    // Latency far past the objective would flatten the curve near it.
    let top_y = steps
        .map(|s| s.p99_ms)
        .fold(c.objective_p99_ms * 1.5, f64::max)
        .min(c.objective_p99_ms * 4.0);
    let (x_max, x_step) = nice_axis(top_x);
    let (y_max, y_step) = nice_axis(top_y);
    let x = |v: f64| LEFT + v / x_max * (WIDTH - LEFT - RIGHT);
    let y = |v: f64| HEIGHT - BOTTOM - v.min(y_max) / y_max * (HEIGHT - BOTTOM - TOP);
    let _ = writeln!(o, "<h3>p99 {} against offered load</h3>", esc(&c.measure));
    chart_open(
        o,
        &format!("capacity-{}-latency", c.search.name()),
        &format!("p99 {} against offered rate", c.measure),
    );
    axes(
        o,
        (x_max, x_step),
        (y_max, y_step),
        &x,
        &y,
        &format!("offered {}", c.unit),
        " ms",
    );
    let _ = writeln!(
        o,
        "<line class=\"objective\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
        WIDTH - RIGHT,
        y(c.objective_p99_ms),
        y(c.objective_p99_ms)
    );
    for (i, level) in c.levels.iter().enumerate() {
        let mut points: Vec<(f64, f64)> =
            level.steps.iter().map(|s| (s.offered, s.p99_ms)).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        series(
            o,
            LEVELS[i % LEVELS.len()],
            points.into_iter().map(|(a, b)| Some((x(a), y(b)))),
        );
    }
    o.push_str("</svg>\n");
    legend(o, c);
}

/// The measured capacities, the fitted law from one node to two more
/// than measured, and its predictions.
fn scaling(o: &mut String, c: &CapacityReport) {
    let measured: Vec<(f64, f64)> = c
        .levels
        .iter()
        .filter_map(|l| l.capacity.map(|r| (f64::from(l.nodes), r)))
        .collect();
    if measured.is_empty() {
        return;
    }
    let most = c.levels.iter().map(|l| l.nodes).max().unwrap_or(1) + 2;
    let curve: Vec<(f64, f64)> = c.fit.as_ref().map_or_else(Vec::new, |f| {
        (0..=(most - 1) * 10)
            .map(|i| {
                let n = 1.0 + f64::from(i) / 10.0;
                (n, f.predict(n))
            })
            .collect()
    });
    let top_y = measured
        .iter()
        .chain(&curve)
        .map(|p| p.1)
        .fold(0.0, f64::max);
    let (x_max, x_step) = (f64::from(most), 1.0);
    let (y_max, y_step) = nice_axis(top_y.max(1.0));
    let x = |v: f64| LEFT + v / x_max * (WIDTH - LEFT - RIGHT);
    let y = |v: f64| HEIGHT - BOTTOM - v / y_max * (HEIGHT - BOTTOM - TOP);
    o.push_str("<h3>Capacity against node count</h3>");
    chart_open(
        o,
        &format!("capacity-{}-scaling", c.search.name()),
        "sustained load against node count",
    );
    let per_second = if c.search == SearchKind::Uploads {
        ""
    } else {
        "/s"
    };
    axes(
        o,
        (x_max, x_step),
        (y_max, y_step),
        &x,
        &y,
        "nodes",
        per_second,
    );
    series(o, "fit", curve.iter().map(|&(a, b)| Some((x(a), y(b)))));
    for (n, r) in &measured {
        let _ = writeln!(
            o,
            "<circle class=\"series measured\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"><title>{} nodes: {}</title></circle>",
            x(*n),
            y(*r),
            n,
            amount(c.search, *r)
        );
    }
    for p in &c.predictions {
        let _ = writeln!(
            o,
            "<circle class=\"series predicted\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"><title>{} nodes: about {}</title></circle>",
            x(f64::from(p.nodes)),
            y(p.rate),
            p.nodes,
            amount(c.search, p.rate)
        );
    }
    o.push_str("</svg>\n");
    let fit = match (&c.fit, &c.fit_error) {
        (Some(f), _) => format!(
            "Universal Scalability Law: λ {} per node, σ {:.4}, κ {:.5}, R² {:.3}{}.",
            amount(c.search, f.lambda),
            f.sigma,
            f.kappa,
            f.r_squared,
            f.peak_nodes
                .map(|p| format!("; adding nodes stops helping past {p:.1}"))
                .unwrap_or_default()
        ),
        (None, Some(e)) => format!("No scaling law: {e}."),
        (None, None) => String::new(),
    };
    let _ = writeln!(
        o,
        "<p class=\"legend\"><span class=\"swatch\" style=\"background:#1d2330\"></span>measured\
         <span class=\"swatch\" style=\"background:#8a5a00\"></span>predicted\
         <span class=\"swatch\" style=\"background:#7b3fb5\"></span>fitted</p><p class=\"meta\">{}</p>",
        esc(&fit)
    );
}

/// Both axes of a chart whose x is a value, not a time.
fn axes(
    o: &mut String,
    (x_max, x_step): (f64, f64),
    (y_max, y_step): (f64, f64),
    x: &dyn Fn(f64) -> f64,
    y: &dyn Fn(f64) -> f64,
    x_label: &str,
    y_unit: &str,
) {
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        grid_y(o, y(v), &format!("{}{y_unit}", fmt_num(v)));
        v += y_step;
    }
    axis_values(o, (x_max, x_step), x, "", x_label);
}

/// Which line is which node count.
fn legend(o: &mut String, c: &CapacityReport) {
    const COLOURS: [&str; 4] = ["#1f6fd1", "#e07b00", "#1f8a3b", "#7b3fb5"];
    o.push_str("<p class=\"legend\">");
    for (i, level) in c.levels.iter().enumerate() {
        let _ = write!(
            o,
            "<span class=\"swatch\" style=\"background:{}\"></span>{} node{}",
            COLOURS[i % COLOURS.len()],
            level.nodes,
            if level.nodes == 1 { "" } else { "s" }
        );
    }
    o.push_str("<span class=\"swatch\" style=\"background:#c62828\"></span>objective</p>\n");
}

/// The generator's self-check over the run.
pub(super) fn generator(o: &mut String, g: &GeneratorFigures) {
    let _ = writeln!(
        o,
        "<h2>Load generator</h2><table id=\"generator\"><tr><th>send lag p50</th><th>send lag p99</th>\
         <th>sent late</th><th>held by max_in_flight</th><th>CPU</th><th>open files</th><th>sockets</th></tr>\
         <tr><td class=\"num\">{:.2} ms</td><td class=\"num\">{:.2} ms</td><td class=\"num\">{:.2}%</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></table>",
        g.send_lag_p50_ms,
        g.send_lag_p99_ms,
        g.late_share * 100.0,
        g.held,
        match (g.cpu_share, g.cpus) {
            (Some(s), Some(c)) => format!("{:.0}% of {} CPU(s)", s * 100.0, fmt_num(c)),
            _ => "-".to_string(),
        },
        g.peak_fds
            .map_or_else(|| "-".to_string(), |v| v.to_string()),
        g.peak_sockets
            .map_or_else(|| "-".to_string(), |v| v.to_string()),
    );
    match &g.bound {
        Some(b) => {
            let _ = writeln!(
                o,
                "<p class=\"fail\">The generator fell behind: {}. The run's figures are its limit, not the cluster's.</p>",
                esc(b)
            );
        }
        None => o.push_str(
            "<p class=\"meta\">The generator kept up: its figures are the cluster's.</p>\n",
        ),
    }
}
