//! The impulses ("taps") of one scatterer on every channel of an aperture: the split of elements
//! into sub-elements, their directivity, spreading and attenuation at fc, and the delay-binned
//! collapse of column channels.

use super::context::Context;
#[cfg(target_arch = "x86_64")]
use super::kernel::Simd;
use super::math::{SINC_SERIES_MAX, dist, sinc, sinc_series, sinc_small, small_sin_cos};
use super::scratch::Pool;
use super::{AUTO_MAX_SUBELEMENT_WAVELENGTHS, MAX_SUBELEMENTS, Subelements};
use crate::phantom::Scatterer;
use crate::probe::{Aperture, Channel, ChannelMode, lens_advance_s};
use rayon::prelude::*;
use std::f64::consts::PI;
use std::mem::size_of;

/// Width of the delay bins of a column channel, in periods of fc.
pub(super) const BIN_PERIODS: f64 = 0.25;

/// Per-scatterer scratch of the column fast path, sized for the longest column of a run.
#[derive(Default)]
pub(super) struct ColumnScratch {
    pub(super) delta: Vec<f32>,
    pub(super) gain: Vec<f32>,
    pub(super) bin: Vec<f32>,
    pub(super) re: Vec<f32>,
    pub(super) im: Vec<f32>,
    pub(super) sums: Vec<(f32, f32)>,
    /// Broadband directivity: each sub-element's `B` gain and phasor, and each bin's phasor sums
    /// of `A` and `B` (re, im, re, im).
    pub(super) gain_b: Vec<f32>,
    pub(super) re_b: Vec<f32>,
    pub(super) im_b: Vec<f32>,
    pub(super) sums_ab: Vec<[f32; 4]>,
    /// The fit table's `(A, B)` along the elevation angle at one sub-column's azimuth angle.
    pub(super) fit_row: Vec<[f32; 2]>,
}

impl ColumnScratch {
    /// Scratch for columns of up to `n` elements and fit tables of `fit_rows` points along the
    /// elevation angle (0 without broadband directivity); resizing within it allocates nothing.
    pub(super) fn new(n: usize, fit_rows: usize) -> ColumnScratch {
        ColumnScratch {
            delta: vec![0.0; n],
            gain: vec![0.0; n],
            bin: vec![0.0; n],
            re: vec![0.0; n],
            im: vec![0.0; n],
            sums: Vec::with_capacity(n),
            gain_b: vec![0.0; n],
            re_b: vec![0.0; n],
            im_b: vec![0.0; n],
            sums_ab: Vec::with_capacity(n),
            fit_row: vec![[0.0; 2]; fit_rows],
        }
    }

    /// Heap of [`ColumnScratch::new`]`(n)`.
    pub(super) fn bytes(n: usize, fit_rows: usize) -> u128 {
        (n as u128)
            .saturating_mul(8 * 4 + 8 + 16)
            .saturating_add(fit_rows as u128 * 8)
    }

    pub(super) fn resize(&mut self, n: usize) {
        for v in [
            &mut self.delta,
            &mut self.gain,
            &mut self.bin,
            &mut self.re,
            &mut self.im,
            &mut self.gain_b,
            &mut self.re_b,
            &mut self.im_b,
        ] {
            v.resize(n, 0.0);
        }
    }
}

/// One impulse: amplitude and delay (seconds). With broadband directivity the impulse's factor
/// across the band is `amp + amp_b·φ(f)` (see `directivity`); otherwise `amp_b` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Tap {
    pub(super) amp: f32,
    pub(super) amp_b: f32,
    pub(super) delay_s: f64,
}

/// The taps of a block of scatterers on every channel of one aperture, in slots of a fixed size:
/// scatterer `i` owns `taps[i·stride..(i+1)·stride]` and `offsets[i·(n_ch+1)..(i+1)·(n_ch+1)]`,
/// and its channel `ch` the taps `offsets[ch]..offsets[ch + 1]` of its slot. The stride is the
/// aperture's number of sub-elements, which no scatterer's taps exceed (one per sub-element on the
/// element path, at most one bin per sub-element on the column path).
pub(super) struct TapArena {
    taps: Vec<Tap>,
    offsets: Vec<u32>,
    stride: usize,
    n_ch: usize,
}

impl TapArena {
    /// An arena for `block` scatterers of `stride` taps over `n_ch` channels.
    pub(super) fn new(block: usize, stride: usize, n_ch: usize) -> TapArena {
        TapArena {
            taps: vec![Tap::default(); block * stride],
            offsets: vec![0; block * (n_ch + 1)],
            stride,
            n_ch,
        }
    }

    /// Heap of [`TapArena::new`].
    pub(super) fn bytes(block: usize, stride: usize, n_ch: usize) -> u128 {
        let slot = (stride as u128 * size_of::<Tap>() as u128).saturating_add((n_ch as u128 + 1) * 4);
        (block as u128).saturating_mul(slot)
    }

    /// The taps of scatterer `i` of the block.
    pub(super) fn scatterer(&self, i: usize) -> Taps<'_> {
        Taps {
            taps: &self.taps[i * self.stride..(i + 1) * self.stride],
            offsets: &self.offsets[i * (self.n_ch + 1)..(i + 1) * (self.n_ch + 1)],
        }
    }

    /// The slots of the block, one per scatterer, to fill in parallel.
    pub(super) fn slots(&mut self) -> impl IndexedParallelIterator<Item = TapSlot<'_>> {
        self.taps
            .par_chunks_mut(self.stride.max(1))
            .zip(self.offsets.par_chunks_mut(self.n_ch + 1))
            .map(|(taps, offsets)| TapSlot { taps, offsets, n: 0 })
    }
}

/// The impulses of one scatterer on every channel; channel `ch` owns
/// `taps[offsets[ch]..offsets[ch + 1]]`.
#[derive(Clone, Copy)]
pub(super) struct Taps<'a> {
    taps: &'a [Tap],
    offsets: &'a [u32],
}

impl<'a> Taps<'a> {
    pub(super) fn channel(&self, ch: usize) -> &'a [Tap] {
        &self.taps[self.offsets[ch] as usize..self.offsets[ch + 1] as usize]
    }
}

/// A scatterer's slot of a [`TapArena`] being filled, channel by channel.
pub(super) struct TapSlot<'a> {
    taps: &'a mut [Tap],
    offsets: &'a mut [u32],
    n: usize,
}

impl TapSlot<'_> {
    /// Stores an impulse, unless its amplitude is 0 in `f32` (an element facing away, or a gain
    /// that underflows `f32`): every stored tap reaches the scatterer, so the incident wave's time
    /// span and its histogram cover the same taps.
    #[inline(always)]
    fn push(&mut self, amp: f64, delay_s: f64) {
        self.push_broadband(amp, 0.0, delay_s);
    }

    /// Stores an impulse of factor `amp + amp_b·φ(f)`, unless both are 0 in `f32`.
    #[inline(always)]
    pub(super) fn push_broadband(&mut self, amp: f64, amp_b: f64, delay_s: f64) {
        let (amp, amp_b) = (amp as f32, amp_b as f32);
        if amp != 0.0 || amp_b != 0.0 {
            debug_assert!(
                amp.is_finite() && amp_b.is_finite() && delay_s.is_finite(),
                "tap {amp} + {amp_b}·φ at {delay_s} s"
            );
            self.taps[self.n] = Tap { amp, amp_b, delay_s };
            self.n += 1;
        }
    }

    /// Ends channel `ch`: its taps are those stored since the previous channel ended.
    #[inline(always)]
    fn end_channel(&mut self, ch: usize) {
        // n ≤ stride = the aperture's sub-elements ≤ MAX_ELEMENTS · MAX_SUBELEMENTS² = 2^29,
        // inside u32.
        self.offsets[ch + 1] = self.n as u32;
    }
}

/// How every element of a probe is split into sub-elements: `az × el` equal rectangles of
/// `width_m × height_m`, each weighted `1 / (az·el)` so that a split element's far field is the
/// whole element's (the split discretises the element's surface; it does not make it stronger).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Split {
    pub(super) az: usize,
    pub(super) el: usize,
    /// The element's size, metres.
    element: (f64, f64),
}

impl Split {
    /// The split `sub` of elements `width_m × height_m` at wavelength `lambda_m`; a fixed split
    /// is validated by `Simulator::with_options`, and clamped here to the same range.
    pub(super) fn new(sub: Subelements, width_m: f64, height_m: f64, lambda_m: f64) -> Split {
        let auto = |size: f64| {
            let n = (size / (AUTO_MAX_SUBELEMENT_WAVELENGTHS * lambda_m)).ceil();
            if n.is_finite() {
                (n as usize).clamp(1, MAX_SUBELEMENTS)
            } else {
                1
            }
        };
        let (az, el) = match sub {
            Subelements::Auto => (auto(width_m), auto(height_m)),
            Subelements::Fixed { azimuth, elevation } => (azimuth, elevation),
            Subelements::None => (1, 1),
        };
        Split {
            az: az.clamp(1, MAX_SUBELEMENTS),
            el: el.clamp(1, MAX_SUBELEMENTS),
            element: (width_m, height_m),
        }
    }

    /// The split of `ap`'s elements (every element of a probe has the same size).
    pub(super) fn for_aperture(sub: Subelements, ap: &Aperture, lambda_m: f64) -> Split {
        let e = &ap.probe().elements()[0];
        Split::new(sub, e.width_m, e.height_m, lambda_m)
    }

    /// Sub-element width and height, metres.
    pub(super) fn size(&self) -> (f64, f64) {
        (self.element.0 / self.az as f64, self.element.1 / self.el as f64)
    }

    /// Offset of sub-element `j` of `n` from the centre of a side of length `len`.
    fn offset(j: usize, n: usize, len: f64) -> f64 {
        if n == 1 {
            0.0
        } else {
            (j as f64 + 0.5) * (len / n as f64) - 0.5 * len
        }
    }

    /// Offset of azimuth sub-column `j` from the element's centre along its azimuth direction.
    pub(super) fn offset_az(&self, j: usize) -> f64 {
        Split::offset(j, self.az, self.element.0)
    }

    /// Offset of elevation sub-row `k` from the element's centre along y.
    pub(super) fn offset_el(&self, k: usize) -> f64 {
        Split::offset(k, self.el, self.element.1)
    }

    /// Sub-elements of a channel of `n` elements.
    pub(super) fn count(&self, n: usize) -> usize {
        n.saturating_mul(self.az).saturating_mul(self.el)
    }
}

/// The sub-elements of sub-column `j` of channel `ch` of `ap` under `split`: position and lens
/// advance of each, element by element (in the channel's order), each element's sub-rows by
/// increasing y. A sub-element's advance is the one its own position has under the aperture's
/// elevation lens (`ChannelMode::Columns` with a focus: the lens law at its distance from the
/// channel's axis); without a lens it keeps its element's advance (0).
pub(super) fn sub_elements<'a>(
    ap: &'a Aperture,
    split: Split,
    ch: &'a Channel,
    j: usize,
) -> impl Iterator<Item = ([f64; 3], f64)> + 'a {
    let els = ap.probe().elements();
    let focus = match ap.mode() {
        ChannelMode::Columns {
            elevation_focus_m: Some(f),
        } if split.el > 1 => Some(f),
        _ => None,
    };
    let u = els[ch.elements[0]].azimuth_dir();
    let du = split.offset_az(j);
    ch.elements.iter().zip(&ch.advances_s).flat_map(move |(&e, &a)| {
        let p = els[e].position_m;
        (0..split.el).map(move |k| {
            let q = [p[0] + du * u[0], p[1] + split.offset_el(k), p[2] + du * u[2]];
            let adv = focus.map_or(a, |f| lens_advance_s(q[1] - ch.position_m[1], f));
            (q, adv)
        })
    })
}

/// Reference point of sub-column `j` of channel `ch`: the channel's reference point moved along
/// the elements' azimuth direction to the sub-column (the point the column path measures the
/// sub-column's delays from).
pub(super) fn sub_column_ref(ap: &Aperture, split: Split, ch: &Channel, j: usize) -> [f64; 3] {
    let u = ap.probe().elements()[ch.elements[0]].azimuth_dir();
    let (du, p) = (split.offset_az(j), ch.position_m);
    if du == 0.0 {
        return p;
    }
    [p[0] + du * u[0], p[1], p[2] + du * u[2]]
}

/// Plain-array geometry of an aperture, split into sub-elements. A channel is `split.az`
/// sub-columns (sub-elements sharing x, z and normal, differing in y); a sub-column is each of the
/// channel's elements split `split.el` times in elevation.
#[derive(Debug, Clone)]
pub(super) struct Geometry {
    /// Per channel: reference point, normal (x, z), azimuth direction (x, z), sub-column range.
    pub(super) ref_pos: Vec<[f64; 3]>,
    pub(super) normal: Vec<[f64; 2]>,
    pub(super) udir: Vec<[f64; 2]>,
    pub(super) cols: Vec<(usize, usize)>,
    /// Per sub-column: reference point (see [`sub_column_ref`]), sub-element range.
    pub(super) col_ref: Vec<[f64; 3]>,
    pub(super) col_range: Vec<(usize, usize)>,
    /// Per sub-element (channel-major, then sub-column): position, lens advance.
    pub(super) pos: Vec<[f64; 3]>,
    pub(super) advance_s: Vec<f64>,
    /// Per sub-element, f32 for the column fast path: y relative to the channel's reference, advance.
    pub(super) y_rel: Vec<f32>,
    pub(super) advance_f32: Vec<f32>,
    /// Sub-element size, metres.
    pub(super) width_m: f64,
    pub(super) height_m: f64,
    /// Weight of a sub-element: `1 / (az·el)`.
    pub(super) weight: f64,
}

/// Bytes per channel, per sub-column and per sub-element of a [`Geometry`].
const GEOMETRY_CHANNEL_BYTES: u128 = 24 + 16 + 16 + 16;
const GEOMETRY_COLUMN_BYTES: u128 = 24 + 16;
const GEOMETRY_ELEMENT_BYTES: u128 = 24 + 8 + 4 + 4;

impl Geometry {
    pub(super) fn new(ap: &Aperture, split: Split) -> Geometry {
        let els = ap.probe().elements();
        let n_ch = ap.n_channels();
        let n_col = n_ch * split.az;
        let n_el = ap.channels().iter().map(|c| split.count(c.elements.len())).sum();
        let (width_m, height_m) = split.size();
        let mut g = Geometry {
            ref_pos: Vec::with_capacity(n_ch),
            normal: Vec::with_capacity(n_ch),
            udir: Vec::with_capacity(n_ch),
            cols: Vec::with_capacity(n_ch),
            col_ref: Vec::with_capacity(n_col),
            col_range: Vec::with_capacity(n_col),
            pos: Vec::with_capacity(n_el),
            advance_s: Vec::with_capacity(n_el),
            y_rel: Vec::with_capacity(n_el),
            advance_f32: Vec::with_capacity(n_el),
            width_m,
            height_m,
            weight: 1.0 / (split.az * split.el) as f64,
        };
        for ch in ap.channels() {
            let first_col = g.col_range.len();
            for j in 0..split.az {
                let start = g.pos.len();
                for (q, a) in sub_elements(ap, split, ch, j) {
                    g.pos.push(q);
                    g.advance_s.push(a);
                    g.y_rel.push((q[1] - ch.position_m[1]) as f32);
                    g.advance_f32.push(a as f32);
                }
                g.col_range.push((start, g.pos.len()));
                g.col_ref.push(sub_column_ref(ap, split, ch, j));
            }
            g.cols.push((first_col, g.col_range.len()));
            g.ref_pos.push(ch.position_m);
            g.normal.push([ch.normal[0], ch.normal[2]]);
            let u = els[ch.elements[0]].azimuth_dir();
            g.udir.push([u[0], u[2]]);
        }
        g
    }

    /// Heap of [`Geometry::new`]`(ap, split)`.
    pub(super) fn bytes(ap: &Aperture, split: Split) -> u128 {
        let n_el: usize = ap
            .channels()
            .iter()
            .map(|c| split.count(c.elements.len()))
            .fold(0, usize::saturating_add);
        let n_ch = ap.n_channels() as u128;
        (n_ch * GEOMETRY_CHANNEL_BYTES)
            .saturating_add(n_ch * split.az as u128 * GEOMETRY_COLUMN_BYTES)
            .saturating_add(n_el as u128 * GEOMETRY_ELEMENT_BYTES)
    }
}

impl Context {
    /// Directivity times spreading `D_e / r` of a (sub-)element of `geo` with normal `n` and azimuth direction
    /// `u` (both in the x–z plane) for the vector `d = p − x_e` of length `r`: 0 for a scatterer
    /// behind or on the element's plane (including `r = 0`). The spreading `1/r` is held at its
    /// value at `r_min = λ/(2π)` closer in, where the far-field point-source model has no meaning
    /// (it keeps a scatterer next to an element finite).
    pub(super) fn element_gain(&self, geo: &Geometry, n: [f64; 2], u: [f64; 2], d: [f64; 3], r: f64) -> f64 {
        let dn = d[0] * n[0] + d[2] * n[1];
        if dn <= 0.0 {
            return 0.0;
        }
        // r ≥ dn > 0, but a distance of 1e-300 m squares to 0 in `dist`.
        let r = if r > 0.0 { r } else { dn };
        let cos_t = dn / r;
        let su = (d[0] * u[0] + d[2] * u[1]) / r;
        let sy = d[1] / r;
        sinc(geo.width_m * su / self.lambda) * sinc(geo.height_m * sy / self.lambda) * cos_t / r.max(self.r_min)
    }

    /// Fills `slots` with the impulses of every channel of `geo` for each scatterer of `block`,
    /// in parallel, with scratch from `pool`.
    pub(super) fn fill_taps<'a>(
        &self,
        geo: &Geometry,
        block: &[&Scatterer],
        slots: impl IndexedParallelIterator<Item = TapSlot<'a>>,
        pool: &Pool,
    ) {
        slots.zip(block.par_iter()).for_each_init(
            || pool.lease(),
            |scratch, (mut slot, s)| {
                self.taps(geo, s, &mut scratch.column, &mut slot);
            },
        );
    }

    /// Impulses of every channel of `geo` for scatterer `s` (one leg; its attenuation at fc
    /// relative to the scatterer's distance from the transmit aperture's centre included), into
    /// `slot`, with the widest vector instructions the CPU offers.
    fn taps(&self, geo: &Geometry, s: &Scatterer, scratch: &mut ColumnScratch, slot: &mut TapSlot) {
        #[cfg(target_arch = "x86_64")]
        if self.simd == Simd::Avx2 {
            // SAFETY: `Avx2` is only selected when the CPU supports AVX2 and FMA.
            return unsafe { self.taps_avx2(geo, s, scratch, slot) };
        }
        self.taps_generic(geo, s, scratch, slot)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn taps_avx2(&self, geo: &Geometry, s: &Scatterer, scratch: &mut ColumnScratch, slot: &mut TapSlot) {
        self.taps_generic(geo, s, scratch, slot)
    }

    #[inline(always)]
    fn taps_generic(&self, geo: &Geometry, s: &Scatterer, scratch: &mut ColumnScratch, slot: &mut TapSlot) {
        if self.cylindrical {
            return self.line_taps(geo, self.in_plane(s.position_m), slot);
        }
        let p = s.position_m;
        let r0 = dist(p, self.center);
        slot.n = 0;
        slot.offsets[0] = 0;
        for ch in 0..geo.cols.len() {
            let r_ref = dist(p, geo.ref_pos[ch]);
            // The leg's attenuation at fc relative to half the round trip L/2 = r0 (the pulse
            // table carries exp(−α·|f|·L)): bounded by exp(±α·fc·|x − centre|), see
            // `MAX_APERTURE_LOSS_NP`. Times the sub-elements' weight.
            let att = (-self.alpha * self.fc * (r_ref - r0)).exp() * geo.weight;
            let (n, u) = (geo.normal[ch], geo.udir[ch]);
            let (c0, c1) = geo.cols[ch];
            for col in c0..c1 {
                let (a, b) = geo.col_range[col];
                if self.exact || b - a == 1 {
                    for e in a..b {
                        let x = geo.pos[e];
                        let d = [p[0] - x[0], p[1] - x[1], p[2] - x[2]];
                        let r = dist(p, x);
                        let delay = r / self.c - geo.advance_s[e];
                        if let Some(fit) = &self.fit {
                            let (ga, gb) = self.element_gain_broadband(fit, geo, n, u, d, r);
                            slot.push_broadband(ga * att, gb * att, delay);
                        } else {
                            slot.push(self.element_gain(geo, n, u, d, r) * att, delay);
                        }
                    }
                } else if let Some(fit) = &self.fit {
                    let r_col = dist(p, geo.col_ref[col]);
                    self.column_taps_broadband(fit, geo, (n, u), col, p, r_col, att, scratch, slot);
                } else {
                    let r_col = dist(p, geo.col_ref[col]);
                    self.column_taps(geo, (n, u), col, p, r_col, att, scratch, slot);
                }
            }
            slot.end_channel(ch);
        }
    }

    /// Sub-column `col` of `geo` (sub-elements sharing x, z and normal `nu.0`, azimuth direction
    /// `nu.1`, differing in y; `r_col` the scatterer's distance from its reference point) for a
    /// scatterer at `p`: the sub-elements' impulses are grouped into bins of [`BIN_PERIODS`]
    /// periods of delay and each bin collapsed into one impulse by its phasor sum at fc (exact
    /// phase within a bin, whose spread is at most a quarter period).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn column_taps(
        &self,
        geo: &Geometry,
        nu: ([f64; 2], [f64; 2]),
        col: usize,
        p: [f64; 3],
        r_col: f64,
        att: f64,
        s: &mut ColumnScratch,
        taps: &mut TapSlot,
    ) {
        let (a, b) = geo.col_range[col];
        let n_el = b - a;
        let Some((az, lo, hi)) = self.column_elements(geo, nu, col, p, r_col, s) else {
            return;
        };
        let tau_ref = r_col / self.c;
        let k = (2.0 * PI * self.fc) as f32;
        let bins = DelayBins::new(lo, hi, self.fc, n_el);
        s.bin_sums(n_el, &bins, k);
        for (j, &(re, im)) in s.sums.iter().enumerate() {
            let c = bins.center(j as f32);
            let amp = ((re * re + im * im).sqrt() as f64) * az * att;
            if amp > 0.0 {
                taps.push(amp, tau_ref + c as f64 - (im.atan2(re) / k) as f64);
            }
        }
    }

    /// Pass 1 of a sub-column (vectorisable): each sub-element's delay relative to `r_col / c`
    /// (into `s.delta`) and its gain `D_e / r_e` without the azimuth factor (into `s.gain`),
    /// spreading held at `r_min` closer in as in [`Context::element_gain`]. Returns the
    /// azimuth directivity and the range of the delays, or `None` when the scatterer is not in
    /// front of the sub-column.
    #[inline(always)]
    fn column_elements(
        &self,
        geo: &Geometry,
        (n, u): ([f64; 2], [f64; 2]),
        col: usize,
        p: [f64; 3],
        r_ref: f64,
        s: &mut ColumnScratch,
    ) -> Option<(f64, f32, f32)> {
        let (a, b) = geo.col_range[col];
        let n_el = b - a;
        let x0 = geo.pos[a];
        let (dx, dz) = (p[0] - x0[0], p[2] - x0[2]);
        let dn = dx * n[0] + dz * n[1];
        if dn <= 0.0 {
            return None;
        }
        let du = dx * u[0] + dz * u[1];
        let az = sinc(geo.width_m * du / (r_ref.max(self.r_min) * self.lambda));
        let dy_ref = (p[1] - geo.col_ref[col][1]) as f32;
        let rho2 = (dx * dx + dz * dz) as f32;
        // r_ref ≥ dn > 0, but its f32 form may underflow to 0 right at the face.
        let r_ref32 = (r_ref as f32).max(f32::MIN_POSITIVE);
        let (inv_c, dn) = ((1.0 / self.c) as f32, dn as f32);
        let r_min = self.r_min as f32;
        let el = (geo.height_m / self.lambda) as f32;
        s.resize(n_el);
        let (ys, advs) = (&geo.y_rel[a..b], &geo.advance_f32[a..b]);
        let (delta, gain) = (&mut s.delta[..n_el], &mut s.gain[..n_el]);
        // One square root and one division per sub-element. The elevation directivity's argument
        // el·dy/r is at most el (|dy| ≤ r): for sub-elements up to a wavelength tall the
        // division-free series serves every scatterer.
        // Two loops, so that each vectorises with one form of the directivity.
        let pass = Pass1 {
            dy_ref,
            rho2,
            r_ref32,
            inv_c,
            r_min,
            el,
            dn,
        };
        if el <= SINC_SERIES_MAX {
            pass.run(ys, advs, delta, gain, sinc_series);
        } else {
            pass.run(ys, advs, delta, gain, sinc_small);
        }
        // The range of the delays, eight lanes at a time (min and max are exact, so the lanes
        // change nothing but the speed).
        let (mut lo8, mut hi8) = ([f32::INFINITY; 8], [f32::NEG_INFINITY; 8]);
        let chunks = s.delta[..n_el].chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for k in 0..8 {
                lo8[k] = lo8[k].min(c[k]);
                hi8[k] = hi8[k].max(c[k]);
            }
        }
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &d in lo8.iter().chain(rest) {
            lo = lo.min(d);
        }
        for &d in hi8.iter().chain(rest) {
            hi = hi.max(d);
        }
        Some((az, lo, hi))
    }
}

/// Pass 1 of a sub-column for one scatterer (see [`Context::column_elements`]).
struct Pass1 {
    dy_ref: f32,
    rho2: f32,
    r_ref32: f32,
    inv_c: f32,
    r_min: f32,
    el: f32,
    dn: f32,
}

impl Pass1 {
    /// Each sub-element's delay relative to `r_ref / c` and its gain, with the elevation
    /// directivity `sinc`: one square root and one division per sub-element.
    #[inline(always)]
    fn run(&self, ys: &[f32], advs: &[f32], delta: &mut [f32], gain: &mut [f32], sinc: impl Fn(f32) -> f32) {
        for (((d, g), &y), &adv) in delta.iter_mut().zip(gain.iter_mut()).zip(ys).zip(advs) {
            let dy = self.dy_ref - y;
            let r = (self.rho2 + dy * dy).sqrt();
            // |p − x_e| − r_ref, f32 rounding of about 4 nm at 5 cm (3 fs of delay).
            *d = (r - self.r_ref32) * self.inv_c - adv;
            // Spreading held at r_min closer in (as in `element_gain`).
            let inv_r = 1.0 / r.max(self.r_min);
            *g = sinc(self.el * dy * inv_r) * self.dn * inv_r * inv_r;
        }
    }
}

/// The delay bins of one column channel for one scatterer: `n` bins of equal `width` over
/// `[lo, hi]`, or a single bin (of width 0) centred on the range when it is narrower than
/// [`BIN_PERIODS`] periods.
pub(super) struct DelayBins {
    pub(super) lo: f32,
    hi: f32,
    pub(super) n: usize,
    width: f32,
    pub(super) inv_w: f32,
}

impl DelayBins {
    #[inline(always)]
    pub(super) fn new(lo: f32, hi: f32, fc: f64, n_el: usize) -> DelayBins {
        let bin = (BIN_PERIODS / fc) as f32;
        let n = (((hi - lo) / bin).floor() as usize + 1).min(n_el);
        let width = if n == 1 { 0.0 } else { (hi - lo) / n as f32 };
        let inv_w = if width > 0.0 { 1.0 / width } else { 0.0 };
        DelayBins {
            lo,
            hi,
            n,
            width,
            inv_w,
        }
    }

    /// Centre of bin `j` (an integer stored as `f32`), relative delay in seconds.
    #[inline(always)]
    pub(super) fn center(&self, j: f32) -> f32 {
        if self.n == 1 {
            0.5 * (self.lo + self.hi)
        } else {
            self.lo + (j + 0.5) * self.width
        }
    }
}

impl ColumnScratch {
    /// Passes 2 and 3 of a column: the bin of each element and its phasor about the bin centre at
    /// the angular frequency `k` (vectorisable), then the phasor sum of each bin into `sums`, in
    /// element order (deterministic).
    #[inline(always)]
    fn bin_sums(&mut self, n_el: usize, bins: &DelayBins, k: f32) {
        let last = (bins.n - 1) as f32;
        let it = self.delta[..n_el]
            .iter()
            .zip(&self.gain[..n_el])
            .zip(self.bin[..n_el].iter_mut())
            .zip(self.re[..n_el].iter_mut().zip(self.im[..n_el].iter_mut()));
        for (((&d, &g), bin), (re, im)) in it {
            let j = ((d - bins.lo) * bins.inv_w).floor().min(last);
            let c = bins.center(j);
            let (sn, cs) = small_sin_cos(k * (d - c));
            *bin = j;
            *re = g * cs;
            *im = -g * sn;
        }
        self.sums.clear();
        self.sums.resize(bins.n, (0.0, 0.0));
        // Neighbouring elements mostly share a bin: a run of them is summed in registers (in
        // element order, as adding each to the bin's sum in memory would, bit for bit) and its
        // bin's sum loaded and stored once, not once per element.
        let (bin, re, im) = (&self.bin[..n_el], &self.re[..n_el], &self.im[..n_el]);
        let mut i = 0;
        while i < n_el {
            let j = bin[i];
            let (mut sr, mut si) = self.sums[j as usize];
            while i < n_el && bin[i] == j {
                sr += re[i];
                si += im[i];
                i += 1;
            }
            self.sums[j as usize] = (sr, si);
        }
    }
}

impl Context {
    /// 2-D propagation ([`Propagation::Cylindrical`](super::Propagation)): the impulses of every
    /// channel of `geo` for a scatterer at `p` (already moved to the aperture centre's y), one per
    /// sub-column, a line source along y at its reference point: gain
    /// `sinc(w·sinθ_u/λ)·cosθ·sqrt(λ/ρ)` (spreading held at `r_min`), delay `ρ/c`, with `ρ` the
    /// distance in the x–z plane; the leg's attenuation at fc relative to `r0` as in 3-D, weight
    /// `1/az`. The sub-elements' y and lens advances do not enter.
    #[inline(always)]
    fn line_taps(&self, geo: &Geometry, p: [f64; 3], slot: &mut TapSlot) {
        let r0 = dist(p, self.center);
        let in_plane = |q: [f64; 3]| {
            let (dx, dz) = (p[0] - q[0], p[2] - q[2]);
            (dx, dz, (dx * dx + dz * dz).sqrt())
        };
        slot.n = 0;
        slot.offsets[0] = 0;
        for ch in 0..geo.cols.len() {
            let (_, _, r_ref) = in_plane(geo.ref_pos[ch]);
            let att = (-self.alpha * self.fc * (r_ref - r0)).exp() * self.line_weight;
            let (n, u) = (geo.normal[ch], geo.udir[ch]);
            let (c0, c1) = geo.cols[ch];
            for col in c0..c1 {
                let (dx, dz, rho) = in_plane(geo.col_ref[col]);
                let dn = dx * n[0] + dz * n[1];
                if dn <= 0.0 {
                    continue;
                }
                // ρ ≥ dn > 0, but a distance of 1e-300 m squares to 0.
                let rho = if rho > 0.0 { rho } else { dn };
                let su = (dx * u[0] + dz * u[1]) / rho;
                let spread = (self.lambda / rho.max(self.r_min)).sqrt();
                if let Some(fit) = &self.fit {
                    // Broadband: the azimuth factor's fit (a line source has no elevation factor).
                    let (a, b) = fit.lookup(geo.width_m * su / self.lambda, 0.0);
                    let g = (dn / rho) * spread * att;
                    slot.push_broadband(a * g, b * g, rho / self.c);
                } else {
                    let g = sinc(geo.width_m * su / self.lambda) * (dn / rho) * spread;
                    slot.push(g * att, rho / self.c);
                }
            }
            slot.end_channel(ch);
        }
    }
}
