//! The Universal Scalability Law (Gunther) fitted to measured capacity per node count:
//! X(N) = λN / (1 + σ(N−1) + κN(N−1)).
//! λ is the throughput of one node, σ the contention (the share of work that queues on a
//! shared resource) and κ the coherency cost (crosstalk that grows with every pair of nodes).
//! Three unknowns cannot be pinned down by fewer than three node counts, and a poor fit
//! (R² below `MIN_R_SQUARED`) would only extrapolate noise, so neither gives a prediction.

use serde::{Deserialize, Serialize};

/// A scalability curve fitted to measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// Throughput of a single node.
    pub lambda: f64,
    /// Contention: the serialised share of the work (0 = none).
    pub sigma: f64,
    /// Coherency: the cost of keeping each pair of nodes consistent (0 = none).
    pub kappa: f64,
    /// The share of the variance in measured capacity the curve explains.
    pub r_squared: f64,
    /// Measurements the fit used.
    pub points: usize,
    /// The node count past which adding nodes lowers capacity
    /// (sqrt((1−σ)/κ)); None when κ is 0.
    pub peak_nodes: Option<f64>,
}

impl Fit {
    /// Capacity the law predicts for `nodes` nodes.
    pub fn predict(&self, nodes: f64) -> f64 {
        model(self.lambda, self.sigma, self.kappa, nodes)
    }
}

/// The least R² accepted.
pub const MIN_R_SQUARED: f64 = 0.9;

fn model(lambda: f64, sigma: f64, kappa: f64, n: f64) -> f64 {
    lambda * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))
}

/// Residual sum of squares in throughput space, the quantity the fit minimises.
fn ssr(pts: &[(f64, f64)], lambda: f64, sigma: f64, kappa: f64) -> f64 {
    pts.iter()
        .map(|&(n, x)| (x - model(lambda, sigma, kappa, n)).powi(2))
        .sum()
}

/// Best non-negative (σ, κ) for a fixed λ, and the resulting SSR.
/// With λ fixed, Nλ/X − 1 = σ(N−1) + κN(N−1) is linear, so a 2×2 least-squares solve suffices.
fn inner(pts: &[(f64, f64)], lambda: f64) -> (f64, f64, f64) {
    let (mut saa, mut sab, mut sbb, mut say, mut sby) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(n, x) in pts {
        let (a, b, y) = (n - 1.0, n * (n - 1.0), n * lambda / x - 1.0);
        // A residual r in this linear form is about r·X²/(Nλ) in throughput, so weighting by
        // that factor squared makes the linear solve approximate the X-space least squares.
        let w = (x * x / (n * lambda)).powi(2);
        (saa, sab, sbb) = (saa + w * a * a, sab + w * a * b, sbb + w * b * b);
        (say, sby) = (say + w * a * y, sby + w * b * y);
    }
    // The physical law needs σ, κ ≥ 0; when the joint solve breaks that, the optimum lies on
    // a boundary, so try each one-parameter fit (clamped) and keep the best candidate.
    // (Three distinct node counts ≥ 1 make saa, sbb and det positive; the guards are cheap.)
    let mut cands = vec![(0.0, 0.0)];
    if saa > 0.0 && sbb > 0.0 {
        cands.extend([((say / saa).max(0.0), 0.0), (0.0, (sby / sbb).max(0.0))]);
    }
    let det = saa * sbb - sab * sab;
    if det > 0.0 {
        let (s, k) = ((say * sbb - sby * sab) / det, (sby * saa - say * sab) / det);
        if s >= 0.0 && k >= 0.0 {
            cands.push((s, k));
        }
    }
    cands
        .into_iter()
        .map(|(s, k)| (s, k, ssr(pts, lambda, s, k)))
        .min_by(|p, q| p.2.total_cmp(&q.2))
        .expect("candidate list is never empty")
}

/// Fits the law to `(node count, throughput)` measurements.
pub fn fit(points: &[(u32, f64)]) -> Result<Fit, String> {
    for &(n, x) in points {
        if n == 0 {
            return Err(
                "a measurement at 0 nodes cannot be fitted; every node count must be at least 1"
                    .into(),
            );
        }
        if !x.is_finite() || x <= 0.0 {
            return Err(format!(
                "capacity at {n} nodes is {x}, but every capacity must be a positive finite number"
            ));
        }
    }
    let mut counts: Vec<u32> = points.iter().map(|p| p.0).collect();
    counts.sort_unstable();
    counts.dedup();
    if counts.len() < 3 {
        let verb = if counts.len() == 1 { "was" } else { "were" };
        return Err(format!(
            "a scaling law needs capacity at three node counts or more; {} {verb} measured",
            counts.len()
        ));
    }
    let pts: Vec<(f64, f64)> = points.iter().map(|&(n, x)| (n as f64, x)).collect();

    // σ, κ ≥ 0 make X ≤ λN, so λ is at least the best per-node throughput seen; noise can
    // pull the optimum a little below, hence the 0.5 floor. Without a 1-node measurement λ
    // can sit well above it, hence the wide ceiling. SSR(λ) need not be unimodal over that
    // span, so a coarse log grid finds the basin and golden-section search refines it.
    let top = pts.iter().map(|&(n, x)| x / n).fold(0.0, f64::max);
    const GRID: usize = 240;
    let at = |i: usize| top * 0.5 * 100f64.powf(i as f64 / GRID as f64);
    let sse = |l: f64| inner(&pts, l).2;
    let best = (0..=GRID)
        .map(|i| (i, sse(at(i))))
        .min_by(|p, q| p.1.total_cmp(&q.1))
        .map_or(0, |p| p.0);
    let (mut a, mut b) = (at(best.saturating_sub(1)), at((best + 1).min(GRID)));
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (sse(c), sse(d));
    for _ in 0..200 {
        if b - a <= 1e-13 * b {
            break;
        }
        if fc <= fd {
            (b, d, fd) = (d, c, fc);
            c = b - g * (b - a);
            fc = sse(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + g * (b - a);
            fd = sse(d);
        }
    }
    let (sigma, kappa, _) = inner(&pts, (a + b) / 2.0);
    // For fixed σ, κ the model is linear in λ, so polish λ with its exact least-squares value.
    let gs: Vec<f64> = pts
        .iter()
        .map(|&(n, _)| model(1.0, sigma, kappa, n))
        .collect();
    let num: f64 = pts.iter().zip(&gs).map(|(&(_, x), g)| x * g).sum();
    let lambda = num / gs.iter().map(|g| g * g).sum::<f64>();

    let ss_res = ssr(&pts, lambda, sigma, kappa);
    let mean = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
    let ss_tot: f64 = pts.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let scale: f64 = pts.iter().map(|p| p.1 * p.1).sum();
    // Flat capacity has no variance to explain: a curve through it exactly is a perfect fit.
    let r_squared = if ss_tot <= 1e-20 * scale {
        if ss_res <= 1e-12 * scale { 1.0 } else { 0.0 }
    } else {
        1.0 - ss_res / ss_tot
    };
    if r_squared < MIN_R_SQUARED {
        return Err(format!(
            "the scaling-law fit has R² = {r_squared:.3}, below the {MIN_R_SQUARED} needed: the figures \
             do not follow the law (noise, or a step that was not the cluster's limit)"
        ));
    }
    let peak_nodes = (kappa > 1e-12 && sigma < 1.0).then(|| ((1.0 - sigma) / kappa).sqrt());
    Ok(Fit {
        lambda,
        sigma,
        kappa,
        r_squared,
        points: pts.len(),
        peak_nodes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(
        lambda: f64,
        sigma: f64,
        kappa: f64,
        ns: std::ops::RangeInclusive<u32>,
    ) -> Vec<(u32, f64)> {
        ns.map(|n| (n, model(lambda, sigma, kappa, n as f64)))
            .collect()
    }

    fn rel(got: f64, want: f64) -> f64 {
        ((got - want) / want).abs()
    }

    #[test]
    fn recovers_known_parameters() {
        let f = fit(&curve(1000.0, 0.05, 0.002, 1..=8)).unwrap();
        assert!(rel(f.lambda, 1000.0) < 0.02, "{f:?}");
        assert!(rel(f.sigma, 0.05) < 0.02, "{f:?}");
        assert!(rel(f.kappa, 0.002) < 0.05, "{f:?}");
        assert!(f.r_squared > 0.999, "{f:?}");
        assert_eq!(f.points, 8);
    }

    #[test]
    fn tolerates_one_percent_noise() {
        let noise = [1.01, 0.99, 1.005, 0.992, 1.01, 0.995, 0.99, 1.008];
        let pts: Vec<(u32, f64)> = curve(1000.0, 0.05, 0.002, 1..=8)
            .into_iter()
            .zip(noise)
            .map(|((n, x), k)| (n, x * k))
            .collect();
        let f = fit(&pts).unwrap();
        assert!(rel(f.lambda, 1000.0) < 0.05, "{f:?}");
        assert!((f.sigma - 0.05).abs() < 0.03, "{f:?}");
        assert!(
            rel(f.predict(9.0), model(1000.0, 0.05, 0.002, 9.0)) < 0.05,
            "{f:?}"
        );
    }

    #[test]
    fn refuses_too_few_or_bad_points() {
        let two = fit(&[(1, 100.0), (2, 190.0)]).unwrap_err();
        assert!(
            two.contains("three") && two.contains("2 were measured"),
            "{two}"
        );
        assert!(fit(&[(1, 100.0)]).unwrap_err().contains("1 was measured"));
        assert!(fit(&[]).is_err());
        let dup = fit(&[(1, 100.0), (2, 190.0), (2, 195.0), (1, 101.0)]).unwrap_err();
        assert!(dup.contains("three"), "{dup}");
        let good = [(1, 100.0), (2, 190.0), (3, 270.0)];
        for bad in [0.0, -5.0, f64::NAN, f64::INFINITY] {
            let mut pts = good.to_vec();
            pts[1].1 = bad;
            assert!(fit(&pts).unwrap_err().contains("positive finite"), "{bad}");
        }
        assert!(
            fit(&[(0, 10.0), (1, 100.0), (2, 190.0), (3, 270.0)])
                .unwrap_err()
                .contains("0 nodes")
        );
    }

    #[test]
    fn linear_scaling_has_no_peak() {
        let f = fit(&curve(250.0, 0.0, 0.0, 1..=6)).unwrap();
        assert_eq!(f.peak_nodes, None, "{f:?}");
        for n in [1.0, 7.0, 10.0, 20.0] {
            assert!(rel(f.predict(n), 250.0 * n) < 1e-6, "{n}: {f:?}");
        }
    }

    #[test]
    fn flat_capacity_is_a_perfect_fit() {
        let f = fit(&[(1, 100.0), (2, 100.0), (3, 100.0), (5, 100.0)]).unwrap();
        assert_eq!(f.r_squared, 1.0);
        assert!(rel(f.predict(8.0), 100.0) < 1e-6, "{f:?}");
    }

    #[test]
    fn refuses_a_poor_fit() {
        let err = fit(&[(1, 100.0), (2, 10.0), (3, 500.0), (4, 20.0)]).unwrap_err();
        assert!(err.contains("R²") && err.contains("do not follow"), "{err}");
    }

    #[test]
    fn three_points_extrapolate() {
        let f = fit(&curve(500.0, 0.1, 0.01, 1..=3)).unwrap();
        for n in [4.0, 5.0] {
            assert!(
                rel(f.predict(n), model(500.0, 0.1, 0.01, n)) < 0.02,
                "{n}: {f:?}"
            );
        }
    }

    #[test]
    fn peak_nodes_matches_formula() {
        let f = fit(&curve(1000.0, 0.05, 0.002, 1..=8)).unwrap();
        let peak = f.peak_nodes.expect("κ > 0 gives a peak");
        assert!(rel(peak, (0.95f64 / 0.002).sqrt()) < 0.05, "{f:?}");
    }

    #[test]
    fn without_a_one_node_measurement() {
        let f = fit(&[
            (2, model(800.0, 0.2, 0.001, 2.0)),
            (4, model(800.0, 0.2, 0.001, 4.0)),
            (8, model(800.0, 0.2, 0.001, 8.0)),
            (16, model(800.0, 0.2, 0.001, 16.0)),
        ])
        .unwrap();
        assert!(rel(f.lambda, 800.0) < 0.02, "{f:?}");
        assert!(
            rel(f.predict(32.0), model(800.0, 0.2, 0.001, 32.0)) < 0.02,
            "{f:?}"
        );
    }
}
