//! The statistics behind Evidently's drift tests, as scipy 1.17 and numpy 2 compute
//! them (Evidently calls them): the two-sample Kolmogorov-Smirnov p-value (exact up
//! to 10,000 rows a side, else the asymptotic distribution), the 1-Wasserstein
//! distance, Sturges histograms, Jensen-Shannon distance, PSI, Kullback-Leibler
//! divergence, the chi-square and two-proportion z p-values.
//!
//! Written here because no maintained Rust crate reproduces scipy's choices (its
//! exact KS lattice-path recursion, its KS branch points, numpy's bin-edge
//! arithmetic) closely enough to agree with Evidently to 1e-6; each function says
//! which scipy or numpy routine it follows. The tests compare with scipy itself.

use cairn_core::metrics::Sum;

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The largest distance between the two empirical CDFs (`ks_2samp`'s statistic),
/// from sorted samples: both CDFs are evaluated after every distinct value.
pub fn ks_statistic(r: &[f64], c: &[f64]) -> f64 {
    let (n1, n2) = (r.len() as f64, c.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut max_pos, mut min_neg) = (f64::NEG_INFINITY, f64::INFINITY);
    while i < r.len() || j < c.len() {
        let x = match (r.get(i), c.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        while i < r.len() && r[i] <= x {
            i += 1;
        }
        while j < c.len() && c[j] <= x {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        max_pos = max_pos.max(diff);
        min_neg = min_neg.min(diff);
    }
    max_pos.max((-min_neg).clamp(0.0, 1.0))
}

/// `scipy.stats.ks_2samp(r, c).pvalue`, two-sided, `method="auto"`: exact when
/// neither sample has more than 10,000 values, else the asymptotic one-sample
/// distribution at the effective size `round(n1*n2/(n1+n2))`. `r` and `c` sorted.
pub fn ks_2samp_pvalue(r: &[f64], c: &[f64]) -> f64 {
    let (n1, n2) = (r.len() as u64, c.len() as u64);
    if n1 == 0 || n2 == 0 {
        return f64::NAN;
    }
    let d = ks_statistic(r, c);
    if n1.max(n2) <= 10_000 {
        let g = gcd(n1, n2);
        let lcm = (n1 / g) * n2;
        let h = (d * lcm as f64).round_ties_even() as u64;
        if h == 0 {
            return 1.0;
        }
        let d_exact = h as f64 / lcm as f64;
        let p = if n1 == n2 {
            prob_outside_square(n1, h)
        } else {
            outer_prob_inside(n1, n2, g, h)
        };
        if p.is_finite() && (0.0..=1.0).contains(&p) {
            return p;
        }
        // scipy falls back to the asymptotic value when the exact one fails.
        let en = ((n1 * n2) as f64 / (n1 + n2) as f64).round_ties_even();
        return kolmogorov_sf(en as u64, d_exact).clamp(0.0, 1.0);
    }
    let en = ((n1 as f64 * n2 as f64) / (n1 + n2) as f64).round_ties_even();
    kolmogorov_sf(en as u64, d).clamp(0.0, 1.0)
}

/// P(D ≥ h/n) for two samples of `n` each: scipy's `_compute_prob_outside_square`,
/// the alternating binomial sum factored into a Horner-like product.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0;
    let mut k = (n / h) as i64;
    while k >= 0 {
        let mut p1 = 1.0;
        let kh = k as f64 * h as f64;
        for j in 0..h {
            let j = j as f64;
            p1 = (n as f64 - kh - j) * p1 / (n as f64 + kh + j + 1.0);
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// The share of lattice paths from (0,0) to (m,n) that leave the band
/// |x/m - y/n| < h/lcm: scipy's `_compute_outer_prob_inside_method` (Hodges' inside
/// method with Viehmann's recursion for 1 - p, one sliding column kept).
fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let (m, n, h) = (m as i64, n as i64, h as i64);
    let ceil_div = |a: i64, b: i64| (a as f64 / b as f64).ceil() as i64;
    let floor_div = |a: i64, b: i64| (a as f64 / b as f64).floor() as i64;
    let mut minj = 0i64;
    let mut maxj = ceil_div(h, mg).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a.max(1)];
    for v in a.iter_mut().take(maxj.max(0) as usize) {
        *v = 0.0;
    }
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            let prev = a[(jj + minj - lastminj) as usize];
            val = (prev * i as f64 + val * j as f64) / (i + j) as f64;
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            for v in a
                .iter_mut()
                .skip((maxj - minj) as usize)
                .take((lastlen - curlen) as usize)
            {
                *v = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}

/// `scipy.stats.kstwo.sf(x, n)`: the two-sided one-sample KS distribution's tail,
/// with scipy's branch points (`_kolmogn`): Ruben-Gambino's closed forms at the
/// ends, twice the one-sided Smirnov tail where that tail is small (n·x² ≥ 2.2, or
/// every x ≥ 0.5), and elsewhere one minus the CDF by Durbin's matrix (Marsaglia,
/// Tsang and Wang) where n·x^1.5 ≤ 1.4, else by Pelz and Good's series, as scipy
/// chooses.
pub fn kolmogorov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        let mut log_p = 0.0;
        for i in 1..=n {
            log_p += (i as f64 / nf).ln();
        }
        let cdf = (log_p + nf * (2.0 * t - 1.0).ln()).exp();
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return (2.0 * (1.0 - x).powf(nf)).clamp(0.0, 1.0);
    }
    if x >= 0.5 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let nxx = t * x;
    if n <= 140 {
        if nxx <= 4.0 {
            return (1.0 - durbin_cdf(n, x)).clamp(0.0, 1.0);
        }
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    if nxx >= 370.0 {
        return 0.0;
    }
    if nxx >= 2.2 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    (1.0 - cdf).clamp(0.0, 1.0)
}

/// Pelz and Good's approximation of P(Dₙ ≤ x): the Li-Chien/Korolyuk expansion
/// K0 + K1/√n + K2/n + K3/n^1.5 in z = x√n, each term summed over Jacobi theta
/// series that converge fast for small z (scipy's `_kolmogn_PelzGood`).
fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    use std::f64::consts::PI;
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    let sqrt2pi = (2.0 * PI).sqrt();
    let z = (n as f64).sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -pi2 / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let (k1a, k1b) = (-z2, pi2 / 4.0);
    let (k2a, k2b, k2c) = (
        6.0 * z6 + 2.0 * z4,
        (2.0 * z4 - 5.0 * z2) * pi2 / 4.0,
        pi4 * (1.0 - 2.0 * z2) / 16.0,
    );
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut k = [0.0f64; 4];
    // Horner over the odd terms: Σ c_m q^(m²) with m = 2k - 1.
    let maxk = (16.0 * z / PI).ceil() as i64;
    for kk in (1..=maxk).rev() {
        let m = (2 * kk - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf(8.0 * kk as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (acc, c) in k.iter_mut().zip(coeffs) {
            *acc = *acc * qpower + c;
        }
    }
    let divisors = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (acc, d) in k.iter_mut().zip(divisors) {
        *acc = *acc * q * sqrt2pi / d;
    }
    // The terms over every integer k for K2 and K3.
    let q = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for kk in (1..=maxk).rev() {
        let kf = kk as f64;
        let ks2 = kf * kf;
        let qp = q.powf(ks2);
        let kspi = PI * kf;
        k2extra += ks2 * qp;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qp;
    }
    k[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    k[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    let nf = n as f64;
    k.iter()
        .enumerate()
        .map(|(i, v)| v / nf.powf(i as f64 / 2.0))
        .sum()
}

/// The one-sided Smirnov tail P(D⁺ₙ ≥ x), by the Birnbaum-Tingey sum
/// `x · Σ_{j ≤ n(1-x)} C(n,j) (1-x-j/n)^(n-j) (x+j/n)^(j-1)`, every term positive
/// and taken in logarithms (scipy's `smirnov` for the sizes drift meets).
fn smirnov_sf(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    let last = (nf * (1.0 - x)).floor() as u64;
    let mut total = Sum::default();
    let ln_fact = |k: u64| libm::lgamma(k as f64 + 1.0);
    for j in 0..=last {
        let jf = j as f64;
        let a = 1.0 - x - jf / nf;
        let b = x + jf / nf;
        if a <= 0.0 && j != n {
            // (1 - x - j/n)^(n-j) is 0 at the boundary.
            continue;
        }
        let log_term = ln_fact(n) - ln_fact(j) - ln_fact(n - j)
            + if n - j > 0 { (nf - jf) * a.ln() } else { 0.0 }
            + (jf - 1.0) * b.ln();
        total.add(log_term.exp());
    }
    (x * total.value()).clamp(0.0, 1.0)
}

/// P(Dₙ < d) by Durbin's matrix, as Marsaglia, Tsang and Wang compute it: the
/// k-th entry of Hⁿ · n!/nⁿ, with the powers scaled as they grow.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut hm = vec![0.0f64; m * m];
    let mut v = vec![0.0f64; m];
    let mut w = vec![0.0f64; m];
    let mut fac = 1.0f64;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] = (1.0 - h.powi(j as i32)) * fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    for i in 1..m {
        for r in (i - 1)..m {
            hm[r * m + i] = w[r - (i - 1)];
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    // Hⁿ by squaring, each product rescaled by a power of 2^140 kept aside.
    let mul = |a: &[f64], b: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0f64; m * m];
        for i in 0..m {
            for l in 0..m {
                let x = a[i * m + l];
                if x == 0.0 {
                    continue;
                }
                for j in 0..m {
                    out[i * m + j] += x * b[l * m + j];
                }
            }
        }
        out
    };
    let scale = 2f64.powi(140);
    let mut result: Vec<f64> = (0..m * m)
        .map(|i| if i % (m + 1) == 0 { 1.0 } else { 0.0 })
        .collect();
    let mut result_exp: i64 = 0;
    let mut base = hm;
    let mut base_exp: i64 = 0;
    let mut e = n;
    while e > 0 {
        if e & 1 == 1 {
            result = mul(&result, &base);
            result_exp += base_exp;
            if result[(k - 1) * m + k - 1] > scale {
                result.iter_mut().for_each(|x| *x /= scale);
                result_exp += 140;
            }
        }
        e >>= 1;
        if e > 0 {
            base = mul(&base, &base);
            base_exp *= 2;
            if base[(k - 1) * m + k - 1] > scale {
                base.iter_mut().for_each(|x| *x /= scale);
                base_exp += 140;
            }
        }
    }
    // Times n!/nⁿ, in logarithms.
    let mut log = result[(k - 1) * m + k - 1].ln() + result_exp as f64 * 2f64.ln();
    for i in 1..=n {
        log += (i as f64 / n as f64).ln();
    }
    log.exp().clamp(0.0, 1.0)
}

/// `scipy.stats.wasserstein_distance(r, c) / max(np.std(r), 0.001)`: Evidently's
/// normed Wasserstein distance. `r` and `c` sorted.
pub fn wasserstein_normed(r: &[f64], c: &[f64]) -> f64 {
    let (n1, n2) = (r.len() as f64, c.len() as f64);
    // The area between the two CDFs, walked over the merged values: between two
    // neighbours the CDFs hold what was seen so far (searchsorted 'right').
    let (mut i, mut j) = (0usize, 0usize);
    let mut area = Sum::default();
    let mut prev: Option<f64> = None;
    while i < r.len() || j < c.len() {
        let take_r = j >= c.len() || (i < r.len() && r[i] <= c[j]);
        let x = if take_r {
            i += 1;
            r[i - 1]
        } else {
            j += 1;
            c[j - 1]
        };
        if let Some(p) = prev {
            // The CDFs as they stood just before `x`: everything consumed but `x`.
            let (ci, cj) = if take_r { (i - 1, j) } else { (i, j - 1) };
            let gap = x - p;
            if gap != 0.0 {
                area.add(((ci as f64 / n1) - (cj as f64 / n2)).abs() * gap);
            }
        }
        prev = Some(x);
    }
    let mut mean = Sum::default();
    r.iter().for_each(|&x| mean.add(x));
    let mean = mean.value() / n1;
    let mut var = Sum::default();
    r.iter().for_each(|&x| var.add((x - mean) * (x - mean)));
    let std = (var.value() / n1).sqrt();
    area.value() / std.max(0.001)
}

/// `np.histogram_bin_edges(values, bins="sturges")` for values spanning [lo, hi]:
/// `ceil(range / (log2(n) + 1))` bins of equal width (at least 1 for integers),
/// edges `lo + i·step` with the last exactly `hi`.
pub fn sturges_edges(lo: f64, hi: f64, n: usize, integer: bool) -> Vec<f64> {
    let (first, last) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let ptp = hi - lo;
    let mut width = ptp / ((n as f64).log2() + 1.0);
    let bins = if width != 0.0 {
        if integer && width < 1.0 {
            width = 1.0;
        }
        ((last - first) / width).ceil() as usize
    } else {
        1
    };
    let bins = bins.max(1);
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + first).collect();
    edges[bins] = last;
    edges
}

/// `np.histogram(sorted, edges)` counts: bins `[e_i, e_{i+1})`, the last closed.
pub fn histogram(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let left = |e: f64| sorted.partition_point(|&x| x < e);
    let right = |e: f64| sorted.partition_point(|&x| x <= e);
    let mut bounds: Vec<usize> = edges[..edges.len() - 1].iter().map(|&e| left(e)).collect();
    bounds.push(right(edges[edges.len() - 1]));
    bounds.windows(2).map(|w| (w[1] - w[0]) as u64).collect()
}

/// Evidently's `feel_zeroes`: zero shares become the smallest non-zero share over
/// a million (when that is at most 1e-4) or 1e-4, with no renormalising.
pub fn feel_zeroes(mut p: Vec<f64>) -> Vec<f64> {
    let min = p
        .iter()
        .copied()
        .filter(|&x| x != 0.0)
        .fold(f64::INFINITY, f64::min);
    let fill = if min <= 0.0001 { min / 1e6 } else { 0.0001 };
    p.iter_mut().filter(|x| **x == 0.0).for_each(|x| *x = fill);
    p
}

/// scipy's `rel_entr(x, y)` (its `xsf` implementation, scipy 1.15 and later):
/// x·ln(x/y), 0 where x is 0; through `ln_1p((x-y)/y)` when x and y are within a
/// factor of 2, and as a difference of logarithms when x/y would underflow or
/// overflow, which is what makes Jensen-Shannon and KL agree past 1e-6.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 || y <= 0.0 {
        return if x == 0.0 && y >= 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let ratio = x / y;
    if 0.5 < ratio && ratio < 2.0 {
        x * ((x - y) / y).ln_1p()
    } else if f64::MIN_POSITIVE < ratio && ratio < f64::INFINITY {
        x * ratio.ln()
    } else {
        x * (x.ln() - y.ln())
    }
}

fn normalised(p: &[f64]) -> Vec<f64> {
    let mut s = Sum::default();
    p.iter().for_each(|&x| s.add(x));
    let s = s.value();
    p.iter().map(|x| x / s).collect()
}

/// `scipy.spatial.distance.jensenshannon(p, q)` (natural logarithm).
pub fn jensenshannon(p: &[f64], q: &[f64]) -> f64 {
    let (p, q) = (normalised(p), normalised(q));
    let mut js = Sum::default();
    for (&a, &b) in p.iter().zip(&q) {
        let m = (a + b) / 2.0;
        js.add(rel_entr(a, m));
        js.add(rel_entr(b, m));
    }
    (js.value() / 2.0).sqrt()
}

/// Evidently's PSI: `Σ (r - c) · ln(r / c)` over smoothed shares.
pub fn psi(r: &[f64], c: &[f64]) -> f64 {
    let mut s = Sum::default();
    for (&a, &b) in r.iter().zip(c) {
        s.add((a - b) * (a / b).ln());
    }
    s.value()
}

/// `scipy.stats.entropy(r, c)`: the Kullback-Leibler divergence of the normalised
/// shares.
pub fn kl_div(r: &[f64], c: &[f64]) -> f64 {
    let (p, q) = (normalised(r), normalised(c));
    let mut s = Sum::default();
    for (&a, &b) in p.iter().zip(&q) {
        s.add(rel_entr(a, b));
    }
    s.value()
}

/// `scipy.stats.chisquare(obs, exp).pvalue`: Pearson's statistic against χ² with
/// k - 1 degrees of freedom (an expected 0 with rows observed gives p = 0).
pub fn chisquare_pvalue(obs: &[f64], exp: &[f64]) -> f64 {
    let mut stat = Sum::default();
    for (&o, &e) in obs.iter().zip(exp) {
        stat.add((o - e) * (o - e) / e);
    }
    let stat = stat.value();
    if stat.is_infinite() {
        return 0.0;
    }
    chi2_sf((obs.len() as f64) - 1.0, stat)
}

/// The χ² survival function: the regularised upper incomplete gamma Q(df/2, x/2),
/// by cephes' series and continued fraction (scipy's `chdtrc`).
pub fn chi2_sf(df: f64, x: f64) -> f64 {
    if x.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    igamc(df / 2.0, x / 2.0)
}

const MACHEP: f64 = 1.110_223_024_625_156_5e-16;
const MAXLOG: f64 = 7.097_827_128_933_84e2;

fn igam_series(a: f64, x: f64) -> f64 {
    let ax = a * x.ln() - x - libm::lgamma(a);
    if ax < -MAXLOG {
        return 0.0;
    }
    let ax = ax.exp();
    let (mut r, mut c, mut ans) = (a, 1.0, 1.0);
    loop {
        r += 1.0;
        c *= x / r;
        ans += c;
        if c / ans <= MACHEP {
            break;
        }
    }
    ans * ax / a
}

fn igamc(a: f64, x: f64) -> f64 {
    if x.is_infinite() {
        return 0.0;
    }
    if x < 1.0 || x < a {
        return 1.0 - igam_series(a, x);
    }
    let ax = a * x.ln() - x - libm::lgamma(a);
    if ax < -MAXLOG {
        return 0.0;
    }
    let ax = ax.exp();
    let big = 4.503_599_627_370_496e15;
    let biginv = 2.220_446_049_250_313e-16;
    let mut y = 1.0 - a;
    let mut z = x + y + 1.0;
    let mut c = 0.0;
    let (mut pkm2, mut qkm2, mut pkm1, mut qkm1) = (1.0, x, x + 1.0, z * x);
    let mut ans = pkm1 / qkm1;
    loop {
        c += 1.0;
        y += 1.0;
        z += 2.0;
        let yc = y * c;
        let pk = pkm1 * z - pkm2 * yc;
        let qk = qkm1 * z - qkm2 * yc;
        let t = if qk != 0.0 {
            let r = pk / qk;
            let t = ((ans - r) / r).abs();
            ans = r;
            t
        } else {
            1.0
        };
        (pkm2, pkm1, qkm2, qkm1) = (pkm1, pk, qkm1, qk);
        if pk.abs() > big {
            pkm2 *= biginv;
            pkm1 *= biginv;
            qkm2 *= biginv;
            qkm1 *= biginv;
        }
        if t <= MACHEP {
            break;
        }
    }
    ans * ax
}

/// The standard normal CDF as scipy's `ndtr` (cephes in `xsf`): `0.5 + 0.5·erf(x)`
/// for `x = a/√2` within (-1, 1), else from `erfc`, so the tails keep their relative
/// precision.
pub fn ndtr(a: f64) -> f64 {
    let x = a * std::f64::consts::FRAC_1_SQRT_2;
    let z = x.abs();
    if z < 1.0 {
        0.5 + 0.5 * libm::erf(x)
    } else {
        let y = 0.5 * libm::erfc(z);
        if x > 0.0 {
            1.0 - y
        } else {
            y
        }
    }
}

/// Evidently's two-proportion z-test: `x_r` of `n_r` reference rows and `x_c` of
/// `n_c` current rows are "not the smallest category"; `2·(1 - Φ(|z|))`, written as
/// Evidently writes it (so a tiny p-value rounds as it does there).
pub fn z_test_pvalue(x_r: f64, n_r: f64, x_c: f64, n_c: f64) -> f64 {
    let (p1, p2) = (x_r / n_r, x_c / n_c);
    let p = (p1 * n_r + p2 * n_c) / (n_r + n_c);
    let z = (p1 - p2) / (p * (1.0 - p) * (1.0 / n_r + 1.0 / n_c)).sqrt();
    2.0 * (1.0 - ndtr(z.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_do_not_differ() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(ks_2samp_pvalue(&a, &a), 1.0);
        assert_eq!(wasserstein_normed(&a, &a), 0.0);
        assert_eq!(jensenshannon(&[0.5, 0.5], &[0.5, 0.5]), 0.0);
    }

    #[test]
    fn sturges_matches_numpys_arithmetic() {
        // 1000 values in [0, 10]: log2(1000) + 1 = 10.97 → ceil(10 / 0.9116) = 11 bins.
        let e = sturges_edges(0.0, 10.0, 1000, false);
        assert_eq!(e.len(), 12);
        assert_eq!(e[11], 10.0);
        let counts = histogram(&[0.0, 0.5, 10.0], &e);
        assert_eq!(counts.iter().sum::<u64>(), 3);
        assert_eq!(counts[10], 1, "the last bin is closed");
    }

    #[test]
    fn disjoint_categories_are_as_far_apart_as_jensen_shannon_goes() {
        let js = jensenshannon(&[1.0, 0.0], &[0.0, 1.0]);
        assert!((js - std::f64::consts::LN_2.sqrt()).abs() < 1e-15);
    }
}
