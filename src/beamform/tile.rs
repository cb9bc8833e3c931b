//! The tile machinery: how an image is cut into tiles, how a tile's inputs are laid out for the
//! kernels, and the pass that fills a tile's transmit tables, runs the kernel over the chunks of
//! transmits and hands out the pixels.
//!
//! Images are processed in tiles of up to `TILE_LINES` lines × `BLOCK` depths, laid out as vectors
//! of [`LANES`] consecutive depths. The plan stores every per-pixel array tile by tile in that
//! layout ([`TileGeometry`]), so a tile reads its inputs as contiguous slices. For each tile the
//! transmit delays of every (pixel, transmit) — and for IQ the transmit phasors — are tabulated
//! once, by this shared code, so every kernel sees identical delays. Frames with many transmits
//! are processed in equal chunks whose tables fit `TABLE` entries. A tile's working buffers
//! ([`TileBuf`], about 285 KiB) come from a pool the plan owns, not from the stack, so the
//! beamformer runs on threads with small stacks.

use super::Beamformer;
use super::kernels::{KernelParams, KernelScratch, phasor};
use super::tx_model::TxModel;
use ndarray::{ArrayViewMut2, Axis};
use std::mem::MaybeUninit;
use std::sync::{Mutex, PoisonError};

/// Largest number of depths of one line in a tile.
pub(crate) const BLOCK: usize = 32;

/// Largest number of lines in a tile. Square-ish tiles (32 × 32) keep each (channel, transmit)
/// stretch of trace short, so fewer cache lines come from L3 per tile.
pub(crate) const TILE_LINES: usize = 32;

/// Pixels per vector in the tiles' layout (the AVX2 width; depths are padded to a multiple).
pub(crate) const LANES: usize = 8;

/// Largest number of pixels of a tile.
pub(crate) const TILE_MAX: usize = TILE_LINES * BLOCK;

/// Fewest transmits per chunk for which windowed RF tiles carry the transmit-delay differences that
/// let the SIMD kernels prove a vector's window once per channel (with fewer, the proof costs about
/// what it saves).
pub(crate) const WINDOW_PROOF_MIN_TRANSMITS: usize = 3;

/// Fewest pixels of a windowed RF tile without a coherence factor (frames with more transmits than
/// fit a tile of this size run in chunks).
pub(crate) const MIN_TILE: usize = 128;

/// Entries of a tile's per-(pixel, transmit) tables: a tile holds at most `TABLE / transmits`
/// pixels, and frames with more than `TABLE / LANES` transmits are processed in chunks.
pub(crate) const TABLE: usize = 16384;

/// Channel geometry in sample units (structure of arrays).
#[derive(Debug, Clone, Default)]
pub(crate) struct ChannelArrays {
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub z: Vec<f32>,
    pub nx: Vec<f32>,
    pub ny: Vec<f32>,
    pub nz: Vec<f32>,
}

impl ChannelArrays {
    pub fn len(&self) -> usize {
        self.x.len()
    }
}

/// One tile and one chunk of transmits, in sample units, as the kernels see it. Pixel `o` of the
/// tile is lane `o % LANES` of vector `o / LANES`; every vector is full (padding lanes repeat the
/// last pixel of their line and their results are dropped).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tile<'a> {
    /// Receive channels.
    pub ch: &'a ChannelArrays,
    /// Pixel positions, `nv · LANES` each.
    pub px: &'a [f32],
    pub py: &'a [f32],
    pub pz: &'a [f32],
    /// `(2 F# / z)²` per pixel (0 without an F-number).
    pub ih2: &'a [f32],
    /// Vectors in the tile.
    pub nv: usize,
    /// Transmits in the chunk.
    pub nk: usize,
    /// Transmit delay minus `t0`, in samples: pixel `o`, transmit `k` at
    /// `((o / LANES) · nk + k) · LANES + o % LANES` (each vector's transmits are contiguous).
    pub tx: &'a [f32],
    /// IQ only (empty for RF): `w_k · exp(i·2π·f_demod·(t0 + tx / fs))`, laid out as `tx`.
    pub tcos: &'a [f32],
    pub tsin: &'a [f32],
    /// Transmit weights of the chunk.
    pub tw: &'a [f32],
    /// What the SIMD kernels read to skip work (the scalar oracle needs none of it).
    pub hints: SimdHints<'a>,
}

/// Range bounds the tile pass computes for the SIMD kernels, which use them to prove taps inside
/// the record or inside one window and skip per-vector checks. The scalar kernel checks every tap
/// instead and reads none of this.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // NEON runs the scalar code for now
pub(crate) struct SimdHints<'a> {
    /// Smallest and largest transmit delay of each pixel over the chunk.
    pub lo: &'a [f32],
    pub hi: &'a [f32],
    /// Windowed RF plans with at least [`WINDOW_PROOF_MIN_TRANSMITS`] transmits in the chunk only
    /// (empty otherwise): the smallest and largest difference, over the chunk's transmits, between
    /// each pixel's transmit delay and that of lane 0 of its vector (so that a kernel can prove once
    /// per channel that a vector's taps stay in one window).
    pub dlo: &'a [f32],
    pub dhi: &'a [f32],
    /// True when every channel and pixel lies in `y = 0` with channel normals `+z` (the SIMD
    /// kernels then skip the elevation and normal terms).
    pub planar: bool,
    /// Bounding box of the tile's pixels: `[x_lo, x_hi, y_lo, y_hi, z_lo, z_hi]`.
    pub bbox: [f32; 6],
    /// Smallest and largest transmit delay over the tile's pixels and the chunk's transmits.
    pub tx_range: (f32, f32),
}

impl Tile<'_> {
    /// True if, for channel `c`, every pixel of the tile has every tap of every transmit of the
    /// chunk inside the record: the receive distances lie between the distances from the channel
    /// to the nearest and the farthest point of the tile's bounding box, so the sample positions
    /// `r + tx + shift` lie within `[r_near + tx_lo, r_far + tx_hi] + shift`, checked against the
    /// tap bounds `in_lo`, `in_hi` of [`KernelParams::tap_bounds`] with a margin far above the
    /// rounding of the kernels' `f32` distances. A kernel may then skip its per-vector range check
    /// for this channel (most channels of most tiles: only tiles near either end of the record
    /// fail it).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub fn taps_inside(&self, c: usize, shift: f32, in_lo: f32, in_hi: f32) -> bool {
        let b = self.hints.bbox.map(f64::from);
        let e = [self.ch.x[c], self.ch.y[c], self.ch.z[c]].map(f64::from);
        let (mut near, mut far) = (0.0f64, 0.0f64);
        for (a, &p) in e.iter().enumerate() {
            let (lo, hi) = (b[2 * a], b[2 * a + 1]);
            let d_near = (lo - p).max(p - hi).max(0.0);
            let d_far = (p - lo).abs().max((p - hi).abs());
            near += d_near * d_near;
            far += d_far * d_far;
        }
        let (near, far) = (near.sqrt(), far.sqrt());
        let (tx_lo, tx_hi) = (f64::from(self.hints.tx_range.0), f64::from(self.hints.tx_range.1));
        let margin = 1e-5 * (far + tx_lo.abs().max(tx_hi.abs()) + f64::from(in_hi.abs())) + 1e-3;
        let shift = f64::from(shift);
        near + tx_lo + shift - margin >= f64::from(in_lo) && far + tx_hi + shift + margin < f64::from(in_hi)
    }
}

/// Per-pixel sums a kernel accumulates into (`nv · LANES` entries each): the coherent sum
/// (`re`, and `im` for IQ) and, for the coherence factor, the incoherent energy `inc` and the number
/// of contributing channels `cnt`.
pub(crate) struct Sums<'a> {
    pub re: &'a mut [f32],
    pub im: &'a mut [f32],
    pub inc: &'a mut [f32],
    pub cnt: &'a mut [f32],
}

/// Padding of the tile arrays, floats (one cache line): see [`TileBuf`].
const SPREAD: usize = 16;

/// Working storage of one tile: transmit tables, range bounds, sums and the kernels' state.
///
/// Every array is [`SPREAD`] floats longer than it needs to be, and the fields keep their order
/// (`repr(C)`), so that the same entry of different arrays falls in different L1 sets: at exactly
/// 4 KiB apart, the ten arrays a vector reads would share one 8-way set.
#[repr(C)]
pub(crate) struct TileBuf {
    tx: [MaybeUninit<f32>; TABLE + SPREAD],
    tcos: [MaybeUninit<f32>; TABLE + SPREAD],
    tsin: [MaybeUninit<f32>; TABLE + SPREAD],
    lo: [f32; TILE_MAX + SPREAD],
    hi: [f32; TILE_MAX + SPREAD],
    dlo: [f32; TILE_MAX + SPREAD],
    dhi: [f32; TILE_MAX + SPREAD],
    re: [f32; TILE_MAX + SPREAD],
    im: [f32; TILE_MAX + SPREAD],
    inc: [f32; TILE_MAX + SPREAD],
    cnt: [f32; TILE_MAX + SPREAD],
    tmp: [f32; TILE_MAX + SPREAD],
    /// The SIMD kernels' working state (last, so the arrays above keep their relative offsets).
    scratch: KernelScratch,
}

/// Bytes of one [`TileBuf`].
pub(crate) const TILE_BUF_BYTES: usize = std::mem::size_of::<TileBuf>();

impl TileBuf {
    /// A zeroed buffer, built on the heap (never on the stack: it is larger than small thread
    /// stacks).
    fn boxed() -> Box<TileBuf> {
        let layout = std::alloc::Layout::new::<TileBuf>();
        // SAFETY: `TileBuf` has a non-zero size; every field is an array of `f32` or
        // `MaybeUninit<f32>`, for which all-zero bytes are a valid value; the pointer comes from the
        // global allocator with `TileBuf`'s layout, as `Box::from_raw` requires.
        unsafe {
            let p = std::alloc::alloc_zeroed(layout).cast::<TileBuf>();
            if p.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            Box::from_raw(p)
        }
    }
}

/// The tile buffers a plan lends to its tiles: one per tile running at the same time. A tile takes
/// one and gives it back, so after the first frame (and from the start for rayon's thread count at
/// planning time) running a frame allocates nothing.
pub(crate) struct TilePool(Mutex<Vec<Box<TileBuf>>>);

impl TilePool {
    /// A pool with `n` buffers.
    pub(crate) fn new(n: usize) -> TilePool {
        TilePool(Mutex::new((0..n).map(|_| TileBuf::boxed()).collect()))
    }

    /// Runs `f` with a buffer of the pool (a new one if all are in use; it joins the pool after).
    fn with<R>(&self, f: impl FnOnce(&mut TileBuf) -> R) -> R {
        let taken = self.0.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut b = taken.unwrap_or_else(TileBuf::boxed);
        let r = f(&mut b);
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(b);
        r
    }

    /// Buffers held now.
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl std::fmt::Debug for TilePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TilePool({} buffers)", self.len())
    }
}

impl Clone for TilePool {
    fn clone(&self) -> TilePool {
        TilePool::new(self.len())
    }
}

/// Per-pixel arrays (positions, `(2 F# / z)²` and the transmit-time tables of explicit-delay
/// transmits) stored tile by tile, each tile in the layout the kernels read: line `j`'s depths at
/// `j · vl · LANES ..`, padded to whole vectors with copies of the line's last depth
/// (`vl = ⌈n / LANES⌉` for the tile's `n` depths). A tile then takes its arrays as slices instead
/// of gathering its lines from image-order arrays.
#[derive(Debug, Clone)]
pub(crate) struct TileGeometry {
    /// Positions x, y, z (samples) and `(2 F# / z)²`, each `n_tiles · slot` long.
    arrays: [Vec<f32>; 4],
    /// Transmit time minus `t0` (samples) of each explicit-delay transmit, same layout.
    tables: Vec<Vec<f32>>,
    /// Entries per tile (the largest tile's padded pixel count).
    slot: usize,
    /// Tiles along the depth axis.
    tiles_per_line_row: usize,
    /// Each tile's bounding box `[x_lo, x_hi, y_lo, y_hi, z_lo, z_hi]` ([`Tile::bbox`]).
    bboxes: Vec<[f32; 6]>,
}

impl TileGeometry {
    /// Rearranges image-order arrays (`n_lines × n_depths`, depth fastest): the four pixel arrays
    /// and the explicit transmits' tables.
    pub(crate) fn new(
        image: [&[f32]; 4],
        tables: &[Vec<f32>],
        n_lines: usize,
        n_depths: usize,
        tile_lines: usize,
        tile_depths: usize,
    ) -> TileGeometry {
        let (slot, ta, tb) = Self::shape(n_lines, n_depths, tile_lines, tile_depths);
        let tiled = |src: &[f32]| {
            let mut out = vec![0.0f32; ta * tb * slot];
            for a in 0..ta {
                for b in 0..tb {
                    let (line0, k0) = (a * tile_lines, b * tile_depths);
                    let lines = tile_lines.min(n_lines - line0);
                    let n = tile_depths.min(n_depths - k0);
                    let vl = n.div_ceil(LANES);
                    let base = (a * tb + b) * slot;
                    for j in 0..lines {
                        let g = (line0 + j) * n_depths + k0;
                        let o = base + j * vl * LANES;
                        out[o..o + n].copy_from_slice(&src[g..g + n]);
                        out[o + n..o + vl * LANES].fill(src[g + n - 1]);
                    }
                }
            }
            out
        };
        let arrays = image.map(tiled);
        let tables = tables.iter().map(|t| tiled(t)).collect();
        // Over the tile's own entries (a partial tile leaves the rest of its slot unused).
        let bboxes = (0..ta * tb)
            .map(|i| {
                let (a, b) = (i / tb, i % tb);
                let lines = tile_lines.min(n_lines - a * tile_lines);
                let np = lines * tile_depths.min(n_depths - b * tile_depths).div_ceil(LANES) * LANES;
                let [(x0, x1), (y0, y1), (z0, z1)] = [0, 1, 2].map(|k| min_max(&arrays[k][i * slot..i * slot + np]));
                [x0, x1, y0, y1, z0, z1]
            })
            .collect();
        TileGeometry {
            arrays,
            tables,
            slot,
            tiles_per_line_row: tb,
            bboxes,
        }
    }

    /// `(entries per tile, tiles along the lines, tiles along depth)`.
    fn shape(n_lines: usize, n_depths: usize, tile_lines: usize, tile_depths: usize) -> (usize, usize, usize) {
        let slot = tile_lines * tile_depths.div_ceil(LANES) * LANES;
        (slot, n_lines.div_ceil(tile_lines), n_depths.div_ceil(tile_depths))
    }

    /// Length of each array (checked before allocating).
    pub(crate) fn len(n_lines: usize, n_depths: usize, tile_lines: usize, tile_depths: usize) -> usize {
        let (slot, ta, tb) = Self::shape(n_lines, n_depths, tile_lines, tile_depths);
        ta.saturating_mul(tb).saturating_mul(slot)
    }

    /// The first `np` entries of tile `(a, b)` (`a`-th along the lines, `b`-th along depth).
    fn tile(&self, a: usize, b: usize, np: usize) -> [&[f32]; 4] {
        let o = (a * self.tiles_per_line_row + b) * self.slot;
        [0, 1, 2, 3].map(|i| &self.arrays[i][o..o + np])
    }

    /// The first `np` entries of explicit table `i` for tile `(a, b)`.
    fn table(&self, i: usize, a: usize, b: usize, np: usize) -> &[f32] {
        let o = (a * self.tiles_per_line_row + b) * self.slot;
        &self.tables[i][o..o + np]
    }

    /// The bounding box of tile `(a, b)`.
    fn bbox(&self, a: usize, b: usize) -> [f32; 6] {
        self.bboxes[a * self.tiles_per_line_row + b]
    }
}

/// `(min, max)` of `v` (`(∞, −∞)` when empty).
pub(crate) fn min_max(v: &[f32]) -> (f32, f32) {
    v.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |a, &x| (a.0.min(x), a.1.max(x)))
}

/// Where a tile lies: its index along the lines and along depth, and its size.
#[derive(Debug, Clone, Copy)]
pub(super) struct TileAt {
    pub line0: usize,
    pub lines: usize,
    pub k0: usize,
    pub n: usize,
}

impl Beamformer {
    /// One tile: fills its transmit tables, runs `kernel(tile, first_transmit, transmits, sums)` on
    /// each chunk of transmits, and hands every pixel's result to `put(j · tile_depths + i, re, im)`
    /// (scaled by the coherence factor when the plan has one).
    pub(super) fn tile_pass(
        &self,
        at: TileAt,
        mut kernel: impl FnMut(&Tile<'_>, usize, usize, &mut Sums<'_>, &mut KernelScratch),
        put: impl FnMut(usize, f32, f32),
    ) {
        self.pool.with(|b| {
            let vl = at.n.div_ceil(LANES);
            let nv = at.lines * vl;
            let np = nv * LANES;
            let ab = (at.line0 / self.tile_lines, at.k0 / self.tile_depths);
            let [px, py, pz, ih2] = self.geo.tile(ab.0, ab.1, np);
            let bbox = self.geo.bbox(ab.0, ab.1);
            let iq = self.meta.demod_hz().is_some();
            for s in [&mut b.re, &mut b.im, &mut b.inc, &mut b.cnt] {
                s[..np].fill(0.0);
            }
            for tx0 in (0..self.n_tx).step_by(self.tx_chunk) {
                let nk = (self.n_tx - tx0).min(self.tx_chunk);
                let deltas = self.params.windowed && !iq && nk >= WINDOW_PROOF_MIN_TRANSMITS;
                self.fill_tables(b, ab, [px, py, pz], nv, (tx0, nk), deltas, iq);
                let table = nv * nk * LANES;
                let tile = Tile {
                    ch: &self.channels,
                    px,
                    py,
                    pz,
                    ih2,
                    nv,
                    nk,
                    tx: init(&b.tx[..table]),
                    tcos: if iq { init(&b.tcos[..table]) } else { &[] },
                    tsin: if iq { init(&b.tsin[..table]) } else { &[] },
                    tw: &self.tx_weights[tx0..tx0 + nk],
                    hints: SimdHints {
                        lo: &b.lo[..np],
                        hi: &b.hi[..np],
                        dlo: if deltas { &b.dlo[..np] } else { &[] },
                        dhi: if deltas { &b.dhi[..np] } else { &[] },
                        planar: self.planar,
                        bbox,
                        tx_range: (min_max(&b.lo[..np]).0, min_max(&b.hi[..np]).1),
                    },
                };
                let mut sums = Sums {
                    re: &mut b.re[..np],
                    im: &mut b.im[..np],
                    inc: &mut b.inc[..np],
                    cnt: &mut b.cnt[..np],
                };
                kernel(&tile, tx0, nk, &mut sums, &mut b.scratch);
            }
            self.finish(b, at, vl, put);
        })
    }

    /// Tabulates the transmit delays of the chunk's transmits `(first, count)` for the tile's `nv`
    /// vectors (and, for IQ, the weighted transmit phasors), with each pixel's smallest and largest
    /// delay and, with `deltas`, its delays' extreme differences from lane 0's.
    #[allow(clippy::too_many_arguments)]
    fn fill_tables(
        &self,
        b: &mut TileBuf,
        ab: (usize, usize),
        [px, py, pz]: [&[f32]; 3],
        nv: usize,
        (tx0, nk): (usize, usize),
        deltas: bool,
        iq: bool,
    ) {
        let np = nv * LANES;
        b.lo[..np].fill(f32::INFINITY);
        b.hi[..np].fill(f32::NEG_INFINITY);
        if deltas {
            b.dlo[..np].fill(f32::INFINITY);
            b.dhi[..np].fill(f32::NEG_INFINITY);
        }
        for k in 0..nk {
            match self.tx_models[tx0 + k] {
                TxModel::Table { index } => b.tmp[..np].copy_from_slice(self.geo.table(index, ab.0, ab.1, np)),
                ref m => m.times(px, py, pz, &mut b.tmp[..np]),
            }
            let w = self.tx_weights[tx0 + k];
            // Vector by vector (no division per entry, and loops LLVM vectorises: the
            // comparisons below, unlike `f32::min`, need no NaN handling; delays are finite).
            for v in 0..nv {
                let e0 = (v * nk + k) * LANES;
                let src: [f32; LANES] = std::array::from_fn(|l| b.tmp[v * LANES + l]);
                for (l, &t) in src.iter().enumerate() {
                    let o = v * LANES + l;
                    b.tx[e0 + l].write(t);
                    b.lo[o] = if t < b.lo[o] { t } else { b.lo[o] };
                    b.hi[o] = if t > b.hi[o] { t } else { b.hi[o] };
                    if deltas {
                        let d = t - src[0];
                        b.dlo[o] = if d < b.dlo[o] { d } else { b.dlo[o] };
                        b.dhi[o] = if d > b.dhi[o] { d } else { b.dhi[o] };
                    }
                }
                if iq {
                    phasors(
                        &self.params,
                        &src,
                        w,
                        &mut b.tcos[e0..e0 + LANES],
                        &mut b.tsin[e0..e0 + LANES],
                    );
                }
            }
        }
    }

    /// Hands out the tile's pixels, scaled by their coherence factor when the plan has one.
    fn finish(&self, b: &TileBuf, at: TileAt, vl: usize, mut put: impl FnMut(usize, f32, f32)) {
        for j in 0..at.lines {
            for i in 0..at.n {
                let o = j * vl * LANES + i;
                let (re, im) = (b.re[o], b.im[o]);
                let cf = if self.coherence {
                    let den = b.cnt[o] * b.inc[o];
                    if den > 0.0 { (re * re + im * im) / den } else { 0.0 }
                } else {
                    1.0
                };
                put(j * self.tile_depths + i, re * cf, im * cf);
            }
        }
    }
}

/// The weighted transmit phasors `w·exp(i·2π·(phase0 + t·f_demod/fs))` of one vector's delays `t`
/// (lane arrays without bounds checks inside, so that LLVM vectorises them).
#[inline(always)]
fn phasors(p: &KernelParams, t: &[f32; LANES], w: f32, tcos: &mut [MaybeUninit<f32>], tsin: &mut [MaybeUninit<f32>]) {
    let x: [f32; LANES] = std::array::from_fn(|l| p.phase0_turns + t[l] * p.turns_per_sample);
    let mut co = [0.0f32; LANES];
    let mut si = [0.0f32; LANES];
    for l in 0..LANES {
        (co[l], si[l]) = phasor(x[l]);
    }
    for l in 0..LANES {
        tcos[l].write(w * co[l]);
        tsin[l].write(w * si[l]);
    }
}

/// The initialised prefix of a tile table (the table loops of `tile_pass` write every entry below
/// `nv · nk · LANES` before the kernels read them).
fn init(t: &[MaybeUninit<f32>]) -> &[f32] {
    // SAFETY: every element of `t` was written (see above); `MaybeUninit<f32>` has the layout of `f32`.
    unsafe { std::slice::from_raw_parts(t.as_ptr().cast::<f32>(), t.len()) }
}

/// A tile callback: `(where the tile lies, its pixels)`.
pub(super) type TileFn<'a, T> = dyn Fn(TileAt, &mut [T]) + Sync + 'a;

/// Recursive split of `view` into tiles of at most `tile.0` lines × `tile.1` depths with
/// `rayon::join`; the leaves run `f` on their tile and copy it into the view.
///
/// Depth is split first, so that a thread runs a band of depths across all lines before going
/// deeper: the band's stretch of every trace then stays in cache for all its tiles (splitting
/// lines first made every group of lines stream the whole record again; see
/// `docs/performance.md`).
pub(super) fn split<T: Copy + Send + Sync + Default>(
    view: ArrayViewMut2<'_, T>,
    line0: usize,
    k0: usize,
    tile: (usize, usize),
    f: &TileFn<'_, T>,
) {
    let (rows, cols) = view.dim();
    if rows == 0 || cols == 0 {
        return;
    }
    if cols > tile.1 {
        let mid = (cols / 2).div_ceil(tile.1) * tile.1;
        let (a, b) = view.split_at(Axis(1), mid);
        rayon::join(|| split(a, line0, k0, tile, f), || split(b, line0, k0 + mid, tile, f));
        return;
    }
    if rows > tile.0 {
        let mid = (rows / 2).div_ceil(tile.0) * tile.0;
        let (a, b) = view.split_at(Axis(0), mid);
        rayon::join(|| split(a, line0, k0, tile, f), || split(b, line0 + mid, k0, tile, f));
        return;
    }
    let at = TileAt {
        line0,
        lines: rows,
        k0,
        n: cols,
    };
    leaf(view, at, tile.1, f);
}

/// One tile: runs `f` into a tile-sized buffer and copies it into `view`. Out of line so that the
/// buffer (up to 8 KiB) lives only in the leaf's frame, not in every frame of `split`'s recursion
/// (which runs on rayon threads whose stacks may be small).
#[inline(never)]
fn leaf<T: Copy + Default>(mut view: ArrayViewMut2<'_, T>, at: TileAt, depths: usize, f: &TileFn<'_, T>) {
    let mut buf = [T::default(); TILE_MAX];
    f(at, &mut buf);
    for (j, mut row) in view.outer_iter_mut().enumerate() {
        for i in 0..at.n {
            row[i] = buf[j * depths + i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tile-major geometry holds each pixel at the place the kernels read it, pads lines with
    /// their last depth, and its size bound counts what it allocates.
    #[test]
    fn tile_geometry_layout() {
        let (n_lines, n_depths, tl, td) = (5, 11, 2, 8);
        let img: Vec<f32> = (0..n_lines * n_depths).map(|i| i as f32).collect();
        let g = TileGeometry::new(
            [&img, &img, &img, &img],
            std::slice::from_ref(&img),
            n_lines,
            n_depths,
            tl,
            td,
        );
        assert_eq!(g.arrays[0].len(), TileGeometry::len(n_lines, n_depths, tl, td));
        assert_eq!(TileGeometry::len(n_lines, n_depths, tl, td), 3 * 2 * 16);
        for line0 in (0..n_lines).step_by(tl) {
            for k0 in (0..n_depths).step_by(td) {
                let lines = tl.min(n_lines - line0);
                let n = td.min(n_depths - k0);
                let vl = n.div_ceil(LANES);
                let [px, ..] = g.tile(line0 / tl, k0 / td, lines * vl * LANES);
                for j in 0..lines {
                    for i in 0..vl * LANES {
                        let want = ((line0 + j) * n_depths + k0 + i.min(n - 1)) as f32;
                        assert_eq!(px[j * vl * LANES + i], want, "tile ({line0}, {k0}) line {j} depth {i}");
                    }
                }
            }
        }
        // Each tile's bounding box covers its own pixels only (the pixel values here are their
        // image indices, the same in all four arrays).
        assert_eq!(g.bbox(2, 1), [52.0, 54.0, 52.0, 54.0, 52.0, 54.0]);
        // A single-depth grid pads every pixel to a vector: 8 entries per pixel.
        assert_eq!(TileGeometry::len(64, 1, 32, 8), 64 * 8);
    }

    /// `Tile::taps_inside` never claims a tile inside the record when the `f32` distances the
    /// kernels compute put some pixel's taps outside; the record ends are drawn around the tile's
    /// exact extremes so that both answers occur.
    #[test]
    fn taps_inside_is_conservative() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (mut claimed, mut total) = (0, 0);
        for _ in 0..2000 {
            let n_ch = 4;
            let ch = ChannelArrays {
                x: (0..n_ch).map(|_| rng.random_range(-300.0f32..300.0)).collect(),
                y: (0..n_ch).map(|_| rng.random_range(-50.0f32..50.0)).collect(),
                z: (0..n_ch).map(|_| rng.random_range(-20.0f32..5.0)).collect(),
                nx: vec![0.0; n_ch],
                ny: vec![0.0; n_ch],
                nz: vec![1.0; n_ch],
            };
            let np = 2 * LANES;
            let (cx, cz) = (rng.random_range(-300.0f32..300.0), rng.random_range(10.0f32..2000.0));
            // Every other draw is a single point (a degenerate box, so that the distance bounds
            // are exact and only the margin separates the answers).
            let spread = if rng.random_bool(0.5) { 20.0f32 } else { 0.0 };
            let mut jitter = |a: f32| if spread > 0.0 { rng.random_range(-a..a) } else { 0.0 };
            let (j0, j1, j2, j3): (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) = (
                (0..np).map(|_| jitter(20.0)).collect(),
                (0..np).map(|_| jitter(5.0)).collect(),
                (0..np).map(|_| jitter(20.0)).collect(),
                (0..np).map(|_| jitter(1000.0)).collect(),
            );
            let px: Vec<f32> = j0.iter().map(|j| cx + j).collect();
            let py: Vec<f32> = j1.clone();
            let pz: Vec<f32> = j2.iter().map(|j| cz + j).collect();
            let t_mid = rng.random_range(-500.0f32..2000.0);
            let tx: Vec<f32> = j3.iter().map(|j| t_mid + j).collect();
            let ((x0, x1), (y0, y1), (z0, z1), (t0, t1)) = (min_max(&px), min_max(&py), min_max(&pz), min_max(&tx));
            let zeros = vec![0.0f32; np];
            let tile = Tile {
                ch: &ch,
                px: &px,
                py: &py,
                pz: &pz,
                ih2: &zeros,
                nv: np / LANES,
                nk: 1,
                tx: &tx,
                tcos: &[],
                tsin: &[],
                tw: &[1.0],
                hints: SimdHints {
                    lo: &tx,
                    hi: &tx,
                    dlo: &[],
                    dhi: &[],
                    planar: false,
                    bbox: [x0, x1, y0, y1, z0, z1],
                    tx_range: (t0, t1),
                },
            };
            for c in 0..n_ch {
                let ys: Vec<f32> = (0..np)
                    .map(|o| {
                        let (dx, dy, dz) = (px[o] - ch.x[c], py[o] - ch.y[c], pz[o] - ch.z[c]);
                        (dx * dx + dy * dy + dz * dz).sqrt() + tx[o]
                    })
                    .collect();
                let (ymin, ymax) = min_max(&ys);
                // Record ends near the exact extremes (either side), or farther away.
                let mut end = || match spread > 0.0 {
                    true => rng.random_range(-2.0f32..30.0),
                    false => rng.random_range(-0.05f32..0.1),
                };
                let in_lo = ymin - end();
                let in_hi = ymax + end();
                let inside = tile.taps_inside(c, 0.0, in_lo, in_hi);
                total += 1;
                if inside {
                    claimed += 1;
                    assert!(
                        ys.iter().all(|&y| y >= in_lo && y < in_hi),
                        "claimed inside: {ys:?} in [{in_lo}, {in_hi})"
                    );
                }
            }
        }
        // Not vacuous: a fair share of the draws is inside.
        assert!(claimed > total / 10 && claimed < total, "{claimed} of {total}");
    }

    #[test]
    fn tile_buffers_live_on_the_heap_and_are_reused() {
        let pool = TilePool::new(1);
        let p1 = pool.with(|b| b as *const TileBuf as usize);
        let p2 = pool.with(|b| b as *const TileBuf as usize);
        assert_eq!(p1, p2, "the pool lends its buffer again");
        // A second buffer while the first is in use; both stay in the pool afterwards.
        pool.with(|_| pool.with(|_| ()));
        assert_eq!(pool.len(), 2);
        assert!(pool.len() * TILE_BUF_BYTES > 400 << 10);
    }
}
