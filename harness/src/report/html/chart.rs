//! The pieces both pages, a run's and a sweep's, are made of: the style
//! sheet and the probe that tells a browser whether every chart drew, an
//! inline SVG chart's geometry, its opening, grid lines, time axis and
//! series, a round bound for a value axis, numbers as the axes print them,
//! and text made safe for HTML.

use std::fmt::Write as _;

/// Chart geometry, in SVG user units.
pub(super) const WIDTH: f64 = 960.0;
pub(super) const HEIGHT: f64 = 260.0;
pub(super) const LEFT: f64 = 64.0;
pub(super) const RIGHT: f64 = 16.0;
pub(super) const TOP: f64 = 14.0;
pub(super) const BOTTOM: f64 = 34.0;

pub(super) const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#1d2330;padding:0 12px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #dde;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#14692c;font-weight:600}.fail{color:#b3261e;font-weight:600}.unknown{color:#8a5a00;font-weight:600}
.badge{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff}.badge.pass{background:#1f8a3b}.badge.fail{background:#c62828}.badge.unknown{background:#b07800}
.meta{color:#555}svg.chart{display:block;margin:4px 0 2px;background:#fff}
svg text{font:11px system-ui,sans-serif;fill:#444}.axis{stroke:#999;stroke-width:1}.grid{stroke:#eceef3;stroke-width:1}
.ok{stroke:#1f6fd1;fill:none;stroke-width:1.6}.err{stroke:#c62828;fill:none;stroke-width:1.6}
.p50{stroke:#1f6fd1;fill:none;stroke-width:1.6}.p99{stroke:#e07b00;fill:none;stroke-width:1.6}
.warmup{fill:#eef0f4}.fault{fill:#fbe1e1}.share{fill:#1f6fd1}.legend{font-size:12px;color:#444}
.swatch{display:inline-block;width:12px;height:3px;vertical-align:middle;margin:0 4px 0 12px}
.lvl0{stroke:#1f6fd1;fill:none;stroke-width:1.6}.lvl1{stroke:#e07b00;fill:none;stroke-width:1.6}
.lvl2{stroke:#1f8a3b;fill:none;stroke-width:1.6}.lvl3{stroke:#7b3fb5;fill:none;stroke-width:1.6}
.objective{stroke:#c62828;stroke-dasharray:6 4;stroke-width:1.2}.fit{stroke:#7b3fb5;fill:none;stroke-width:1.4}
.measured{fill:#1d2330}.predicted{fill:#8a5a00}h3{font-size:15px;margin:18px 0 6px}
td.full{background:#e3f4e7}td.part{background:#fdf0d5}td.none{background:#fbe1e1}
";

/// Checks, once the page is laid out, that each chart's series has a size:
/// a headless browser test reads `data-charts` and `data-charts-drawn`.
pub(super) const RENDER_PROBE: &str = "(function(){var c=document.querySelectorAll('svg.chart'),d=0;\
for(var i=0;i<c.length;i++){var s=c[i].querySelectorAll('.series'),w=0;\
for(var j=0;j<s.length;j++){var b=s[j].getBBox();if(b.width>0||b.height>0)w++;}\
if(s.length>0&&w===s.length)d++;}\
document.body.setAttribute('data-charts',c.length);\
document.body.setAttribute('data-charts-drawn',d);})();";

pub(super) fn chart_open(o: &mut String, id: &str, title: &str) {
    let _ = writeln!(
        o,
        "<svg class=\"chart\" id=\"chart-{id}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" \
         height=\"{HEIGHT}\" role=\"img\"><title>{}</title>",
        esc(title)
    );
}

pub(super) fn grid_y(o: &mut String, y: f64, label: &str) {
    let _ = writeln!(
        o,
        "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
        WIDTH - RIGHT,
        LEFT - 6.0,
        y + 4.0,
        esc(label)
    );
}

pub(super) fn axis_x(o: &mut String, span: f64, x: &dyn Fn(f64) -> f64) {
    let step = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
    ]
    .into_iter()
    .find(|s| span / s <= 12.0)
    // Whole hours, still about 12 ticks, however long the span.
    .unwrap_or_else(|| (span / 12.0 / 3600.0).ceil() * 3600.0);
    axis_values(o, (span, step), x, "s", "seconds since start");
}

/// The axis lines, and an x axis of ticks every `step` up to `max`, each
/// labelled with its value and `unit`, the axis named by `label`.
pub(super) fn axis_values(
    o: &mut String,
    (max, step): (f64, f64),
    x: &dyn Fn(f64) -> f64,
    unit: &str,
    label: &str,
) {
    let base = HEIGHT - BOTTOM;
    let _ = writeln!(
        o,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{base}\" y2=\"{base}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{base}\"/>",
        WIDTH - RIGHT
    );
    let mut v = 0.0;
    while v <= max + 1e-9 {
        let _ = writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}{}</text>",
            x(v),
            base + 16.0,
            fmt_num(v),
            esc(unit)
        );
        v += step;
    }
    let _ = writeln!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
        WIDTH - RIGHT,
        HEIGHT - 2.0,
        esc(label)
    );
}

/// A polyline through the points; a None breaks it, so a second without
/// successes is a gap, not a line drawn across it.
pub(super) fn series(
    o: &mut String,
    class: &str,
    points: impl Iterator<Item = Option<(f64, f64)>>,
) {
    let mut d = String::new();
    let mut pen_down = false;
    for p in points {
        match p {
            Some((x, y)) => {
                let _ = write!(d, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    if d.is_empty() {
        return;
    }
    let _ = writeln!(o, "<path class=\"series {class}\" d=\"{}\"/>", d.trim_end());
}

/// A round upper bound at or above `top`, and a tick step for it.
pub(super) fn nice_axis(top: f64) -> (f64, f64) {
    let magnitude = 10f64.powf(top.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        let step = magnitude * m / 5.0;
        if step * 5.0 >= top {
            return (step * 5.0, step.max(1e-9));
        }
    }
    (magnitude * 10.0, magnitude * 2.0)
}

pub(super) fn fmt_num(v: f64) -> String {
    if v == v.trunc() {
        format!("{v:.0}")
    } else if v >= 0.1 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Text made safe for HTML content and attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
