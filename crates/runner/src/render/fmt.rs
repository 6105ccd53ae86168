//! Number formatting shared by the renderers, so every format prints a figure the same way.

/// Four decimals, or `n/a` for an undefined value.
pub(crate) fn f4(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "n/a".to_owned()
    }
}

/// A fraction as a percentage with one decimal, or `n/a`.
pub(crate) fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}%", 100.0 * x)
    } else {
        "n/a".to_owned()
    }
}

/// An optional fraction as a percentage.
pub(crate) fn opt_pct(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".to_owned(), pct)
}

/// A p-value: four decimals down to 1e-4, then scientific notation; an underflowed zero is shown
/// as a bound rather than as an impossible exact zero.
pub(crate) fn pval(p: f64) -> String {
    if !p.is_finite() {
        "n/a".to_owned()
    } else if p == 0.0 {
        "< 1e-300".to_owned()
    } else if p < 1e-4 {
        format!("{p:.2e}")
    } else {
        format!("{p:.4}")
    }
}

/// An integer with thousands separators.
pub(crate) fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A parameter count in a compact unit (`1.2M`, `66.4M`, `950`).
pub(crate) fn params(n: usize) -> String {
    let x = n as f64;
    if x >= 1e9 {
        format!("{:.2}B", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}K", x / 1e3)
    } else {
        n.to_string()
    }
}

/// A throughput in examples per second.
pub(crate) fn rate(x: f64) -> String {
    if !x.is_finite() {
        "n/a".to_owned()
    } else if x >= 100.0 {
        format!("{} ex/s", int(x.round() as u64))
    } else {
        format!("{x:.1} ex/s")
    }
}

/// A throughput in tokens per second.
pub(crate) fn token_rate(x: f64) -> String {
    if !x.is_finite() {
        "n/a".to_owned()
    } else if x >= 100.0 {
        format!("{} tok/s", int(x.round() as u64))
    } else {
        format!("{x:.1} tok/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_stable() {
        assert_eq!(f4(0.123_456), "0.1235");
        assert_eq!(f4(f64::NAN), "n/a");
        assert_eq!(pct(0.9534), "95.3%");
        assert_eq!(opt_pct(None), "n/a");
        assert_eq!(pval(0.0), "< 1e-300");
        assert_eq!(pval(3.3e-11), "3.30e-11");
        assert_eq!(pval(0.75), "0.7500");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(int(999), "999");
        assert_eq!(params(66_362_880), "66.4M");
        assert_eq!(rate(12_345.6), "12,346 ex/s");
        assert_eq!(rate(12.34), "12.3 ex/s");
    }
}
