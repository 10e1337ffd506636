//! The page of a sweep: its table of combinations, and bar charts of
//! their throughput and p99.

use std::fmt::Write as _;

use super::chart::{
    BOTTOM, HEIGHT, LEFT, RENDER_PROBE, RIGHT, STYLE, TOP, WIDTH, chart_open, esc, fmt_num, grid_y,
    nice_axis,
};
use crate::report::sweep::SweepReport;

/// The page of a sweep: its table, and bar charts of request and task
/// throughput with every node up and with one down, and of p99.
pub fn sweep_html(s: &SweepReport) -> String {
    let mut o = String::with_capacity(32 * 1024);
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} sweep: {}</title><style>{STYLE}</style></head><body>",
        esc(&s.scenario),
        s.verdict.as_str().to_uppercase()
    );
    let _ = writeln!(
        o,
        "<h1>{} sweep <span id=\"verdict\" class=\"badge {v}\">{V}</span></h1>\
         <p class=\"meta\">{} combinations · started {}</p>",
        esc(&s.scenario),
        s.rows.len(),
        esc(&s.started_at),
        v = s.verdict.as_str(),
        V = s.verdict.as_str().to_uppercase(),
    );
    o.push_str("<h2>Combinations</h2><table id=\"sweep\"><tr><th>#</th>");
    for p in &s.params {
        let _ = write!(o, "<th>{}</th>", esc(p));
    }
    o.push_str(
        "<th>req/s</th><th>p50</th><th>p99</th><th>errors</th><th>tasks/s</th><th>one down: req/s</th>\
         <th>lost</th><th>one down: tasks/s</th><th>tasks lost</th><th>CPU limit</th><th>verdict</th></tr>\n",
    );
    let num =
        |v: Option<f64>, d: usize| v.map(|v| format!("{v:.d$}")).unwrap_or_else(|| "-".into());
    let pct = |v: Option<f64>| {
        v.map(|v| format!("{:.1}%", v * 100.0))
            .unwrap_or_else(|| "-".into())
    };
    for r in &s.rows {
        let _ = write!(o, "<tr><td class=\"num\">{}</td>", r.index);
        for v in &r.values {
            let _ = write!(o, "<td>{}</td>", esc(v));
        }
        let _ = writeln!(
            o,
            "<td class=\"num\">{:.1}</td><td class=\"num\">{:.2} ms</td><td class=\"num\">{:.2} ms</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"{v}\">{V}</td></tr>",
            r.throughput,
            r.p50_ms,
            r.p99_ms,
            r.errors,
            num(r.task_throughput, 1),
            num(r.down_throughput, 1),
            pct(r.capacity_lost),
            num(r.down_task_throughput, 1),
            pct(r.task_capacity_lost),
            esc(r.cpu_limit.as_deref().unwrap_or("none")),
            v = r.verdict.as_str(),
            V = r.verdict.as_str().to_uppercase(),
        );
    }
    o.push_str("</table>\n");
    for r in s.rows.iter().filter(|r| r.error.is_some()) {
        let _ = writeln!(
            o,
            "<p class=\"fail\">Combination {} could not run: {}</p>",
            r.index,
            esc(r.error.as_deref().unwrap_or(""))
        );
    }
    o.push_str("<p class=\"meta\">Throughput counts successful requests per second after warm-up; \"lost\" is the share of it that one node's death cost, measured by running the combination again with its last node killed as the workload starts. Each run has its own report.html in its run folder.</p>\n");
    let rows = &s.rows;
    bars(
        &mut o,
        "throughput",
        "Requests per second",
        rows.iter()
            .map(|r| (r.index, r.throughput, r.down_throughput))
            .collect(),
    );
    if rows.iter().any(|r| r.task_throughput.is_some()) {
        bars(
            &mut o,
            "tasks",
            "Tasks per second",
            rows.iter()
                .map(|r| {
                    (
                        r.index,
                        r.task_throughput.unwrap_or(0.0),
                        r.down_task_throughput,
                    )
                })
                .collect(),
        );
    }
    bars(
        &mut o,
        "p99",
        "p99 latency, ms (all nodes up)",
        rows.iter().map(|r| (r.index, r.p99_ms, None)).collect(),
    );
    let _ = write!(o, "<script>{RENDER_PROBE}</script>\n</body></html>\n");
    o
}

/// A bar chart per combination: the all-up value, and beside it the
/// one-down value where there is one.
fn bars(o: &mut String, id: &str, title: &str, values: Vec<(usize, f64, Option<f64>)>) {
    let top = values
        .iter()
        .flat_map(|(_, a, b)| [*a, b.unwrap_or(0.0)])
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let (y_max, step) = nice_axis(top);
    let y = |v: f64| HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * (v / y_max);
    let slot = (WIDTH - LEFT - RIGHT) / values.len().max(1) as f64;
    let bar = (slot * 0.35).min(40.0);
    let _ = writeln!(o, "<h2>{}</h2>", esc(title));
    o.push_str(
        "<div class=\"legend\"><span class=\"swatch\" style=\"background:#1f6fd1;height:10px\"></span>all nodes up",
    );
    if values.iter().any(|(_, _, down)| down.is_some()) {
        o.push_str(
            "<span class=\"swatch\" style=\"background:#e07b00;height:10px\"></span>one node down",
        );
    }
    o.push_str("</div>\n");
    chart_open(o, id, title);
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        grid_y(o, y(v), &fmt_num(v));
        v += step;
    }
    let base = HEIGHT - BOTTOM;
    let _ = writeln!(
        o,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{base}\" y2=\"{base}\"/>",
        WIDTH - RIGHT
    );
    for (i, (index, up, down)) in values.iter().enumerate() {
        let x0 = LEFT + slot * i as f64 + slot / 2.0;
        let _ = writeln!(
            o,
            "<rect class=\"series ok\" style=\"fill:#1f6fd1\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\"><title>#{index}: {up:.2}</title></rect>",
            x0 - bar,
            y(*up),
            base - y(*up)
        );
        if let Some(d) = down {
            let _ = writeln!(
                o,
                "<rect class=\"series p99\" style=\"fill:#e07b00\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\"><title>#{index} one down: {d:.2}</title></rect>",
                y(*d),
                base - y(*d)
            );
        }
        let _ = writeln!(
            o,
            "<text x=\"{x0:.1}\" y=\"{:.1}\" text-anchor=\"middle\">#{index}</text>",
            base + 16.0
        );
    }
    o.push_str("</svg>\n");
}

#[cfg(test)]
mod sweep_page {
    #[test]
    fn the_sweep_page_has_its_table_and_a_bar_per_run() {
        let page = super::sweep_html(&crate::report::sweep::tests::sample());
        assert!(page.contains("<table id=\"sweep\">"));
        assert!(page.contains("id=\"chart-throughput\"") && page.contains("id=\"chart-tasks\""));
        // Two combinations, each up and down, in two charts; p99 up only.
        assert_eq!(page.matches("class=\"series ok\"").count(), 6);
        assert_eq!(page.matches("class=\"series p99\"").count(), 4);
        assert!(page.contains("<td class=\"num\">50.0%</td>"));
    }
}
