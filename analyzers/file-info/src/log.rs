//! A natural logarithm that gives the same `f64` on every target.
//!
//! pefile's entropy is `-sum(p * log(p, 2))` with CPython's `math.log`, i.e. glibc's `log`,
//! whose result is the correctly rounded one in all but vanishingly rare cases. Rust's
//! `f64::ln` is the platform's: glibc natively, but on `wasm32-wasip1` the `libm` port, which
//! is sometimes one unit in the last place off, and that shows in the report's floats. This
//! computes ln in double-double arithmetic (about 104 bits) and rounds once, so native and
//! wasm builds agree with each other and with CPython.

/// A value `hi + lo` with `|lo| <= ulp(hi) / 2`.
#[derive(Debug, Clone, Copy)]
struct Dd {
    hi: f64,
    lo: f64,
}

/// ln 2 as a double-double.
const LN2: Dd = Dd {
    hi: std::f64::consts::LN_2,
    lo: 2.319_046_813_846_299_6e-17,
};

fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let bb = s - a;
    Dd {
        hi: s,
        lo: (a - (s - bb)) + (b - bb),
    }
}

fn quick_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    Dd {
        hi: s,
        lo: b - (s - a),
    }
}

/// Dekker's split of a double into two 26-bit halves (no fused multiply-add needed).
fn split(a: f64) -> (f64, f64) {
    let c = 134_217_729.0 * a;
    let hi = c - (c - a);
    (hi, a - hi)
}

fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    Dd {
        hi: p,
        lo: ((ah * bh - p) + ah * bl + al * bh) + al * bl,
    }
}

fn add(a: Dd, b: Dd) -> Dd {
    let s = two_sum(a.hi, b.hi);
    let t = two_sum(a.lo, b.lo);
    let s = quick_two_sum(s.hi, s.lo + t.hi);
    quick_two_sum(s.hi, s.lo + t.lo)
}

fn mul(a: Dd, b: Dd) -> Dd {
    let p = two_prod(a.hi, b.hi);
    quick_two_sum(p.hi, p.lo + (a.hi * b.lo + a.lo * b.hi))
}

fn div(a: Dd, b: Dd) -> Dd {
    // Long division: three quotient digits, each correcting the remainder of the last.
    let q1 = a.hi / b.hi;
    let r = add(a, mul(b, Dd { hi: -q1, lo: 0.0 }));
    let q2 = r.hi / b.hi;
    let r = add(r, mul(b, Dd { hi: -q2, lo: 0.0 }));
    let q3 = r.hi / b.hi;
    add(quick_two_sum(q1, q2), Dd { hi: q3, lo: 0.0 })
}

/// The natural logarithm of a positive, finite, normal `x`, correctly rounded except in
/// cases too close to a rounding boundary for 104 bits to decide.
pub fn ln(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0 && x.is_normal()) {
        return x.ln();
    }
    // x = m * 2^e with m in [sqrt(1/2), sqrt(2)).
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    // ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m - 1) / (m + 1), |s| < 0.172.
    let s = div(two_sum(m, -1.0), two_sum(m, 1.0));
    let s2 = mul(s, s);
    let mut series = Dd { hi: 0.0, lo: 0.0 };
    for k in (0..24).rev() {
        let term = div(
            Dd { hi: 1.0, lo: 0.0 },
            Dd {
                hi: f64::from(2 * k + 1),
                lo: 0.0,
            },
        );
        series = add(mul(series, s2), term);
    }
    let ln_m = mul(mul(s, series), Dd { hi: 2.0, lo: 0.0 });
    let ln_2e = mul(
        LN2,
        Dd {
            hi: e as f64,
            lo: 0.0,
        },
    );
    let total = add(ln_2e, ln_m);
    total.hi + total.lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_cpython_math_log() {
        // repr(math.log(x)) in CPython 3.11 on glibc.
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(2.0), std::f64::consts::LN_2);
        assert_eq!(ln(0.5), -std::f64::consts::LN_2);
        assert_eq!(ln(0.1), -2.3025850929940455);
        assert_eq!(ln(1.0 / 3.0), -1.0986122886681098);
        assert_eq!(ln(7.0 / 512.0), -4.292414475984194);
        assert_eq!(ln(1e-300), -690.7755278982137);
    }
}
