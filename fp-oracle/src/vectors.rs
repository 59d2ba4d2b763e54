//! Deterministic operand vectors for the F/D conformance tests.
//!
//! For every instruction: edge vectors (every edge value, or every pair of
//! edge values for two-operand instructions; a structured subset for the
//! three-operand fused multiply-adds), then random vectors from a seeded
//! [`SplitMix64`]. Random operands mix fully random bit patterns with
//! values built to hit the hard cases: exponents close to each other (so
//! additions cancel and round at the last place), products and quotients
//! landing near the underflow and overflow thresholds, short significands
//! whose products are exact ties, fused multiply-adds whose addend cancels
//! the rounded product, conversions near integer limits and ties, and
//! single-precision operands that are not NaN-boxed.
//!
//! Vectors are `[rs1, rs2, rs3]` register images (unused slots are 0).
//! The same seed always gives the same vectors, so a failure reproduces.

use crate::{box_s, eval, Insn, Op, Rm, Width};

/// Random vectors per instruction in the conformance tests.
pub const RANDOM_PER_INSN: usize = 100_000;

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, full-period PRNG.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..n` (`n > 0`; the tiny modulo bias does not
    /// matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A uniform value in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// A uniformly chosen element.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Field layout of a binary floating-point format.
#[derive(Clone, Copy, Debug)]
struct Fmt {
    /// Stored fraction bits (23 or 52).
    mant: u32,
    /// Exponent bits (8 or 11).
    exp_bits: u32,
    w: Width,
}

impl Fmt {
    fn of(w: Width) -> Fmt {
        match w {
            Width::S => Fmt {
                mant: 23,
                exp_bits: 8,
                w,
            },
            Width::D => Fmt {
                mant: 52,
                exp_bits: 11,
                w,
            },
        }
    }
    fn bias(self) -> i64 {
        (1 << (self.exp_bits - 1)) - 1
    }
    /// The all-ones (inf/NaN) biased exponent.
    fn emax(self) -> i64 {
        (1 << self.exp_bits) - 1
    }
    fn mask(self) -> u64 {
        (1 << self.mant) - 1
    }
    fn quiet(self) -> u64 {
        1 << (self.mant - 1)
    }
    /// Keeps the top half of the fraction: two such significands (at most
    /// 13 or 27 bits) multiply to at most p + 1 bits (and p + 2 for S),
    /// so products are often exact ties.
    fn short(self) -> u64 {
        !(self.mask() >> self.mant.div_ceil(2))
    }
    fn sign(self) -> u64 {
        1 << (self.mant + self.exp_bits)
    }
    /// Raw bits from fields; the exponent is clamped to `0..=emax`.
    fn pack(self, sign: bool, exp: i64, mant: u64) -> u64 {
        let e = exp.clamp(0, self.emax()) as u64;
        (if sign { self.sign() } else { 0 }) | e << self.mant | (mant & self.mask())
    }
    fn exp_of(self, raw: u64) -> i64 {
        ((raw >> self.mant) & self.emax() as u64) as i64
    }
    /// Raw bits of an f64 value, rounded to nearest for S.
    fn bits_of(self, x: f64) -> u64 {
        match self.w {
            Width::S => u64::from((x as f32).to_bits()),
            Width::D => x.to_bits(),
        }
    }
    /// Register image of raw bits (NaN-boxed for S).
    fn reg(self, raw: u64) -> u64 {
        match self.w {
            Width::S => box_s(raw as u32),
            Width::D => raw,
        }
    }
    /// Raw bits of a register image (the low 32 bits for S, boxing
    /// unchecked).
    fn raw(self, reg: u64) -> u64 {
        match self.w {
            Width::S => reg & 0xffff_ffff,
            Width::D => reg,
        }
    }
    /// The next raw value up (`k` > 0) or down in magnitude, staying in
    /// the same sign; saturates at zero.
    fn nudge(self, raw: u64, k: i64) -> u64 {
        let s = raw & self.sign();
        let m = (raw & !self.sign()) as i64;
        s | (m + k).max(0) as u64
    }
}

fn push_unique(v: &mut Vec<u64>, x: u64) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Edge values of width `w` as register images: signed zeros, the
/// smallest, largest and some middle subnormals, the smallest and largest
/// normals and their neighbours, infinities, quiet and signalling NaNs
/// with payloads, small halfway values (±0.5, ±1.5, ±2.5, ...), values
/// around ±2^31, 2^32, ±2^63, 2^64 (and ±1, ±0.5 around them, and their
/// neighbouring floats), binary32's overflow and underflow thresholds
/// written in binary64 (for `fcvt.s.d`), and for S a few operands that are
/// not NaN-boxed.
pub fn float_edges(w: Width) -> Vec<u64> {
    let f = Fmt::of(w);
    let (m, mask, q) = (f.mant, f.mask(), f.quiet());
    let mut v = Vec::new();
    for sign in [false, true] {
        let p = |e: i64, mt: u64| f.pack(sign, e, mt);
        let raw = [
            p(0, 0),
            // subnormals
            p(0, 1),
            p(0, 2),
            p(0, 3),
            p(0, 0x5a5a5 & mask),
            p(0, 1 << (m - 1)),
            p(0, (1 << (m - 1)) + 1),
            p(0, mask - 1),
            p(0, mask),
            // normals at the ends of the range
            p(1, 0),
            p(1, 1),
            p(1, mask),
            p(2, 0),
            p(f.emax() - 1, mask),
            p(f.emax() - 1, mask - 1),
            p(f.emax() - 1, 0),
            // around 1, and where squares and products under/overflow
            p(f.bias(), 0),
            p(f.bias(), 1),
            p(f.bias() - 1, mask),
            p(f.bias(), mask),
            p(f.bias() + (1 - f.bias()) / 2, 0),
            p(f.bias() + (1 - f.bias()) / 2, mask),
            p(f.bias() + f.bias() / 2, mask),
            p(f.bias() + f.bias() / 2 + 1, 0),
            // infinity and NaNs: quiet with and without payloads,
            // signalling with the smallest and largest payloads
            p(f.emax(), 0),
            p(f.emax(), q),
            p(f.emax(), q | 1),
            p(f.emax(), q | 0x1234),
            p(f.emax(), 1),
            p(f.emax(), q >> 1),
            p(f.emax(), mask ^ q),
        ];
        for x in raw {
            push_unique(&mut v, x);
        }
        let s = if sign { -1.0 } else { 1.0 };
        for x in [
            0.5,
            1.5,
            2.5,
            3.5,
            2.0,
            3.0,
            0.25,
            0.75,
            0.1,
            7.25,
            100.5,
            101.5,
            1e10,
            1e-10,
            std::f64::consts::PI,
        ] {
            push_unique(&mut v, f.bits_of(s * x));
        }
        // Integer limits and the values around them.
        for l in [2f64.powi(31), 2f64.powi(32), 2f64.powi(63), 2f64.powi(64)] {
            for d in [0.0, -0.5, 0.5, -1.0, 1.0, -1.5] {
                push_unique(&mut v, f.bits_of(s * (l + d)));
            }
            let at = f.bits_of(s * l);
            push_unique(&mut v, f.nudge(at, 1));
            push_unique(&mut v, f.nudge(at, -1));
        }
        // Ties when converting from integers: 2^p + 1 does not fit.
        push_unique(&mut v, f.bits_of(s * 2f64.powi(m as i32 + 1)));
        push_unique(&mut v, f.bits_of(s * (2f64.powi(m as i32) + 0.5)));
        if w == Width::D {
            // binary32's thresholds, for fcvt.s.d.
            let t = 2f64.powi(-126);
            let sub = 2f64.powi(-149);
            for x in [
                f32::MAX as f64,
                2f64.powi(128) - 2f64.powi(103), // halfway to overflow
                f64::from_bits((2f64.powi(128) - 2f64.powi(103)).to_bits() - 1),
                2f64.powi(128),
                t,
                t * (1.0 - 2f64.powi(-24)),
                t * (1.0 - 2f64.powi(-25)),
                t * (1.0 - 2f64.powi(-26)),
                t * (1.0 - 2f64.powi(-24) - 2f64.powi(-40)),
                t - sub,
                t - sub / 2.0, // tie between max subnormal and min normal
                sub,
                sub / 2.0,
                sub / 2.0 * (1.0 + 2f64.powi(-30)),
                sub / 4.0,
                sub * 1.5,
                sub * 2.5,
                1.0 + 2f64.powi(-24),
                1.0 + 2f64.powi(-24) + 2f64.powi(-52),
                1.0 + 3.0 * 2f64.powi(-24),
            ] {
                push_unique(&mut v, (s * x).to_bits());
            }
        }
    }
    let mut regs: Vec<u64> = v.into_iter().map(|x| f.reg(x)).collect();
    if w == Width::S {
        // Not NaN-boxed: all read as the canonical NaN.
        for x in [
            0x0000_0000_3f80_0000,
            0x0000_0000_0000_0000,
            0xffff_fffe_3f80_0000,
            0x7fff_ffff_7f80_0001,
            0x3ff0_0000_0000_0000,
        ] {
            regs.push(x);
        }
    }
    regs
}

/// Edge integer sources for `fcvt.<fmt>.<int>` and `fmv.<fmt>.x`: 0, ±1,
/// the 32- and 64-bit limits, powers of two near the 24- and 53-bit
/// precision limits with ±1 and with the tie bit set, and 32-bit values
/// with garbage in the upper half (which the `w`/`wu` forms must ignore).
pub fn int_edges() -> Vec<u64> {
    let mut v = Vec::new();
    let base: Vec<u64> = vec![
        0,
        1,
        2,
        3,
        i32::MAX as u64,
        i32::MIN as i64 as u64,
        u32::MAX as u64,
        (i32::MIN as i64 - 1) as u64,
        i32::MAX as u64 + 1,
        u32::MAX as u64 + 1,
        i64::MAX as u64,
        i64::MIN as u64,
        u64::MAX,
        i64::MAX as u64 - 1,
        0x1234_5678_ffff_ffff,
        0xffff_ffff_0000_0000,
        0x0000_0000_8000_0000,
        0x7fff_ffff_8000_0001,
        0xdead_beef_0100_0001,
        0x0000_0001_0000_0001,
    ];
    for x in base {
        push_unique(&mut v, x);
        push_unique(&mut v, x.wrapping_neg());
    }
    for k in [23u32, 24, 25, 26, 31, 32, 33, 52, 53, 54, 55, 62, 63] {
        let p = 1u64 << k;
        for x in [
            p,
            p + 1,
            p - 1,
            p + 3,
            p | (p >> 24),
            p | (p >> 24) | 1,
            p | (p >> 25),
            p | (p >> 53),
            p | (p >> 53) | (p >> 54),
            p | (p >> 23) | (p >> 24), // tie, odd: rounds up
        ] {
            push_unique(&mut v, x);
            push_unique(&mut v, x.wrapping_neg());
        }
    }
    v
}

/// The operands of the edge vectors of `insn` (see the module docs).
pub fn edge_vectors(insn: Insn) -> Vec<[u64; 3]> {
    let w = insn.w;
    if insn.int_source() {
        return int_edges().into_iter().map(|a| [a, 0, 0]).collect();
    }
    let e = float_edges(w);
    match insn.arity() {
        1 => e.into_iter().map(|a| [a, 0, 0]).collect(),
        2 => e
            .iter()
            .flat_map(|&a| e.iter().map(move |&b| [a, b, 0]))
            .collect(),
        _ => {
            // A subset cubed, plus every pair with addends that cancel the
            // rounded product (±p) and one more edge value.
            let sub: Vec<u64> = e.iter().copied().step_by(e.len() / 22 + 1).collect();
            let mut v: Vec<[u64; 3]> = sub
                .iter()
                .flat_map(|&a| {
                    let sub = &sub;
                    sub.iter()
                        .flat_map(move |&b| sub.iter().map(move |&c| [a, b, c]))
                })
                .collect();
            let f = Fmt::of(w);
            let mul = Insn { op: Op::Mul, w };
            for (i, &a) in e.iter().enumerate() {
                for (j, &b) in e.iter().enumerate() {
                    let p = eval(mul, Rm::Rne, a, b, 0).0;
                    v.push([a, b, p]);
                    v.push([a, b, f.reg(f.raw(p) ^ f.sign())]);
                    v.push([a, b, e[(i * 7 + j * 13) % e.len()]]);
                }
            }
            v
        }
    }
}

/// A random float (raw bits, not boxed) from a mix of strategies.
fn rand_raw(r: &mut SplitMix64, f: Fmt, edges: &[u64]) -> u64 {
    let sign = r.one_in(2);
    let all = if f.w == Width::S {
        0xffff_ffff
    } else {
        u64::MAX
    };
    match r.below(8) {
        0 | 1 => r.next_u64() & all,
        2 => f.pack(sign, r.range(0, f.emax()), r.next_u64()),
        3 => f.pack(sign, f.bias() + r.range(-8, 8), r.next_u64()),
        // Short significands: products of two are exact or exact ties.
        4 => f.pack(sign, f.bias() + r.range(-20, 20), r.next_u64() & f.short()),
        // Significands next to 1.0 and to 2.0.
        5 => {
            let k = r.below(4);
            let m = if r.one_in(2) { k } else { f.mask() - k };
            f.pack(sign, r.range(0, f.emax()), m)
        }
        6 => f.raw(r.pick(edges)),
        _ => {
            let e = if r.one_in(2) {
                r.range(0, 3)
            } else {
                r.range(f.emax() - 3, f.emax())
            };
            f.pack(sign, e, r.next_u64())
        }
    }
}

/// Register image of a random float: boxed for S, except 1 in 32 with
/// random upper bits (not NaN-boxed).
fn rand_reg(r: &mut SplitMix64, f: Fmt, edges: &[u64]) -> u64 {
    let raw = rand_raw(r, f, edges);
    if f.w == Width::S && r.one_in(32) {
        let hi = r.next_u64() & 0xffff_fffe_0000_0000;
        return hi | raw;
    }
    f.reg(raw)
}

/// A float with biased exponent `e` and a random, short or near-`base`
/// significand.
fn with_exp(r: &mut SplitMix64, f: Fmt, e: i64, base: u64) -> u64 {
    let m = match r.below(4) {
        0 => r.next_u64(),
        1 => r.next_u64() & f.short(),
        2 => base.wrapping_add(r.range(-2, 2) as u64),
        _ => {
            let k = r.below(4);
            if r.one_in(2) {
                k
            } else {
                f.mask() - k
            }
        }
    };
    f.reg(f.pack(r.one_in(2), e, m))
}

/// The second operand of a two-operand op, often correlated with `a`.
fn second(r: &mut SplitMix64, insn: Insn, f: Fmt, a: u64, edges: &[u64]) -> u64 {
    let ra = f.raw(a);
    let ea = f.exp_of(ra);
    let p = f.mant as i64 + 1;
    match (r.below(4), insn.op) {
        (0, _) => rand_reg(r, f, edges),
        (1 | 2, Op::Mul | Op::Div) => {
            // Result exponent near the underflow or overflow threshold.
            let target = if r.one_in(2) {
                r.range(-p - 2, 3)
            } else {
                r.range(f.emax() - 3, f.emax() + 1)
            };
            let eb = if insn.op == Op::Mul {
                target - ea + f.bias()
            } else {
                ea - target + f.bias()
            };
            with_exp(r, f, eb.clamp(0, f.emax() - 1), ra)
        }
        (1 | 2, _) => {
            // Nearby exponent: cancellation, ties at the last place.
            let d = if r.one_in(2) {
                r.range(-3, 3)
            } else {
                r.pick(&[-p - 1, -p, -p + 1, -p + 2, p - 1, p, p + 1])
            };
            with_exp(r, f, (ea + d).clamp(0, f.emax()), ra)
        }
        _ => {
            // a itself, negated, or a few ulps away.
            let x = if r.one_in(2) { ra ^ f.sign() } else { ra };
            f.reg(f.nudge(x, r.range(-2, 2)))
        }
    }
}

/// One time in six, both factors cut to short significands (see
/// [`Fmt::short`]) when both are NaN-boxed: exact and tie products.
fn maybe_short_pair(r: &mut SplitMix64, f: Fmt, a: u64, b: u64) -> (u64, u64) {
    if !r.one_in(6) || f.reg(f.raw(a)) != a || f.reg(f.raw(b)) != b {
        return (a, b);
    }
    let cut = |x: u64| f.reg(f.raw(x) & (f.short() | !f.mask()));
    (cut(a), cut(b))
}

/// A random vector for `insn`.
fn random_vector(r: &mut SplitMix64, insn: Insn, edges: &[u64], iedges: &[u64]) -> [u64; 3] {
    let w = insn.w;
    let f = Fmt::of(w);
    match insn.op {
        Op::FromInt(_) | Op::MvFromInt => {
            let x = match r.below(4) {
                0 => r.next_u64(),
                1 => {
                    let x = r.next_u64() >> r.below(64);
                    if r.one_in(2) {
                        x.wrapping_neg()
                    } else {
                        x
                    }
                }
                2 => {
                    // A leading one, then a tie or near-tie below the
                    // target precision.
                    let k = r.range(20, 63) as u32;
                    let prec = if w == Width::S { 24 } else { 53 };
                    let top = 1u64 << k;
                    let keep = if k >= prec {
                        !((top >> (prec - 1)) - 1)
                    } else {
                        !0
                    };
                    let mut x = top | (r.next_u64() & (top - 1) & keep);
                    if k >= prec {
                        x |= top >> prec; // the tie bit
                        x |= r.below(2); // sticky, sometimes
                    }
                    if r.one_in(2) {
                        x.wrapping_neg()
                    } else {
                        x
                    }
                }
                _ => r.pick(iedges),
            };
            [x, 0, 0]
        }
        Op::ToInt(_) => {
            let a = match r.below(4) {
                0 => rand_reg(r, f, edges),
                1 => {
                    let e = f.bias() + r.range(-2, 66);
                    with_exp(r, f, e, 0)
                }
                2 => {
                    // k + 0.5, k + 0.5 ± ulp: ties for every rounding mode.
                    let lim = if w == Width::S { 22 } else { 51 };
                    let k = (r.next_u64() >> (64 - r.range(1, lim))) as f64;
                    let sgn = if r.one_in(2) { -1.0 } else { 1.0 };
                    let x = f.bits_of(sgn * (k + 0.5));
                    f.reg(f.nudge(x, r.range(-1, 1)))
                }
                _ => {
                    // Near ±2^31, 2^32, ±2^63, 2^64.
                    let e = r.pick(&[30, 31, 32, 62, 63, 64]) + f.bias();
                    with_exp(r, f, e, 0)
                }
            };
            [a, 0, 0]
        }
        Op::CvtFloat if w == Width::D => {
            let a = match r.below(4) {
                0 => rand_reg(r, f, edges),
                1 => {
                    let e = f.bias() + r.range(-155, 130);
                    with_exp(r, f, e, 0)
                }
                2 => {
                    // A binary32 significand, then the half-ulp bit and
                    // maybe a sticky bit: ties and near-ties.
                    let e = f.bias() + r.range(-152, 129);
                    let m = (r.next_u64() & !((1 << 29) - 1))
                        | if r.one_in(2) { 1 << 28 } else { 0 }
                        | r.below(2);
                    f.pack(r.one_in(2), e, m)
                }
                _ => r.pick(edges),
            };
            [a, 0, 0]
        }
        Op::Sqrt => {
            let mut a = rand_reg(r, f, edges);
            if !r.one_in(4) {
                a &= !f.sign();
            }
            if r.one_in(8) {
                // An exact square.
                let e = f.bias() + r.range(-30, 30);
                let x = with_exp(r, f, e, 0);
                let short = f.reg(f.raw(x) & (f.short() | !f.mask()) & !f.sign());
                a = eval(Insn { op: Op::Mul, w }, Rm::Rne, short, short, 0).0;
            }
            [a, 0, 0]
        }
        Op::Madd | Op::Msub | Op::Nmsub | Op::Nmadd => {
            let a = rand_reg(r, f, edges);
            let b = second(r, Insn { op: Op::Mul, w }, f, a, edges);
            let (a, b) = maybe_short_pair(r, f, a, b);
            let p = eval(Insn { op: Op::Mul, w }, Rm::Rne, a, b, 0).0;
            let rp = f.raw(p);
            let c = match r.below(4) {
                0 => rand_reg(r, f, edges),
                1 => {
                    // ±(rounded product) ± a few ulps: heavy cancellation.
                    let x = if r.one_in(2) { rp ^ f.sign() } else { rp };
                    f.reg(f.nudge(x, r.range(-2, 2)))
                }
                2 => {
                    let d = r.range(-(f.mant as i64) - 3, 3);
                    with_exp(r, f, (f.exp_of(rp) + d).clamp(0, f.emax()), rp)
                }
                _ => r.pick(edges),
            };
            [a, b, c]
        }
        _ => {
            let a = rand_reg(r, f, edges);
            let b = if insn.arity() == 2 {
                second(r, insn, f, a, edges)
            } else {
                0
            };
            if insn.op == Op::Mul {
                let (a, b) = maybe_short_pair(r, f, a, b);
                return [a, b, 0];
            }
            [a, b, 0]
        }
    }
}

/// A stable seed per instruction (FNV-1a of its name).
pub fn seed_of(insn: Insn) -> u64 {
    insn.name().bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// `n` random vectors for `insn`, from `seed`.
pub fn random_vectors(insn: Insn, n: usize, seed: u64) -> Vec<[u64; 3]> {
    let mut r = SplitMix64::new(seed);
    let edges = float_edges(insn.w);
    let iedges = int_edges();
    (0..n)
        .map(|_| random_vector(&mut r, insn, &edges, &iedges))
        .collect()
}

/// The edge vectors of `insn` followed by `n_random` random ones seeded
/// by [`seed_of`].
pub fn vectors(insn: Insn, n_random: usize) -> Vec<[u64; 3]> {
    let mut v = edge_vectors(insn);
    v.extend(random_vectors(insn, n_random, seed_of(insn)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        for insn in Insn::all() {
            let a = vectors(insn, 1000);
            let b = vectors(insn, 1000);
            assert_eq!(a, b, "{}", insn.name());
            assert!(a.len() >= 1000 + 40, "{}: {}", insn.name(), a.len());
        }
    }

    #[test]
    fn edges_cover_the_classes() {
        for w in [Width::S, Width::D] {
            let e = float_edges(w);
            let classes = e.iter().fold(0, |m, &x| m | crate::fclass(w, x));
            assert_eq!(classes, 0x3ff, "{w:?}");
        }
    }

    #[test]
    fn random_vectors_raise_every_flag() {
        // The generator must reach every flag for the rounding ops, and
        // underflow in particular, for every width.
        for w in [Width::S, Width::D] {
            for op in [Op::Mul, Op::Div, Op::Madd] {
                let insn = Insn { op, w };
                let mut seen = 0;
                for v in random_vectors(insn, 20_000, 1) {
                    seen |= eval(insn, Rm::Rne, v[0], v[1], v[2]).1;
                }
                let want = if op == Op::Div { 0x1f } else { 0x17 };
                assert_eq!(seen & want, want, "{}", insn.name());
            }
        }
    }
}
