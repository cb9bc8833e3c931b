//! Delay-and-sum beamforming: a plan built once ([`Beamformer::new`]) and run on every frame
//! ([`Beamformer::beamform_into`] for RF, [`Beamformer::beamform_iq_into`] for baseband IQ).
//!
//! # Model
//!
//! The value of pixel `p` is
//! `Σ_tx w_tx · Σ_ch a_ch(p) · s_tx,ch(τ_tx(p) + |p − x_ch| / c)`
//! with `τ_tx` the transmit arrival time of [`crate::sequence`] (the same model the simulator uses),
//! `s` the recorded trace interpolated at that time ([`Interpolation`]; samples outside the record
//! count as zero, nothing is read out of bounds), `a_ch(p)` the receive apodization and `w_tx` the
//! optional per-transmit weight. All transmits of a frame are summed coherently (compounding).
//! For IQ data the interpolated baseband sample is rotated by `exp(+i·2π·f_demod·t)` with `t` the
//! total delay, so the IQ image is the analytic (baseband-shifted) version of the RF image.
//!
//! # Transmit models
//!
//! * plane and diverging waves (and synthetic aperture, a single-element diverging wave) use the
//!   sequence's model exactly;
//! * **focused waves, focal-zone rule.** Let `a = (p − f)·û` be the signed distance of the pixel from
//!   the focal plane along the beam axis `û` (from the centroid of the receive channels to the focus;
//!   the aperture centre in the usual case of the same transmit and receive aperture), `d = |p − f|`
//!   and `W` = [`BeamformConfig::focal_zone_wavelengths`] wavelengths (λ = c / fc). Outside the zone
//!   (`|a| ≥ W`) the time is the virtual-source model `t_f + sign(a)·d / c`. Inside it the time is
//!   blended linearly towards the plane-wave-like time `t_f + a / c`:
//!   `t = t_f + (a + (|a| / W)·(sign(a)·d − a)) / c`. The rule is continuous everywhere, equals the
//!   sequence's model on the beam axis and outside the zone, and removes the jump of the
//!   virtual-source model across the focal plane off axis.
//!
//! # Apodization
//!
//! Receive F-number: a channel takes part in pixel `p` when its lateral distance to the pixel (in
//! the x–y plane) is at most `z_p / (2·F#)`; inside that aperture it is weighted by a [`Window`] of
//! the normalised lateral distance (1 at the centre, the window's edge value at the edge). An
//! optional acceptance angle excludes channels that see the pixel more than that angle off their
//! normal. Optional per-transmit weights scale each transmit's contribution.
//!
//! # Coherence factor
//!
//! With [`BeamformConfig::coherence_factor`] every pixel is multiplied by
//! `CF = |Σ_ch s_ch|² / (N · Σ_ch |s_ch|²)`, where `s_ch = a_ch(p) · Σ_tx w_tx · s_tx,ch(…)` is the
//! apodized, compounded (and for IQ, rotated) signal of channel `ch` and `N` the number of channels
//! with a non-zero weight. CF is 1 when all channels agree and about `1/N` for incoherent noise, so it
//! darkens clutter and side lobes. For RF data it is computed from the RF values themselves.
//!
//! # Kernels
//!
//! The plan translates everything into plain `f32` arrays in *sample units* (positions multiplied by
//! `fs / c`, relative to the centroid of the receive channels): per-pixel positions and squared
//! inverse aperture half-widths, per-channel positions and normals, per-transmit model parameters.
//! Images are processed in tiles of up to [`TILE_LINES`] lines × [`BLOCK`] depths, laid out as
//! vectors of 8 consecutive depths. For each tile the transmit delays of every (pixel, transmit)
//! (and for IQ the transmit phasors `w_tx·exp(i·2π·f_demod·(t0 + τ_tx))`) are tabulated once, by
//! shared code, so all kernels see identical delays; frames with many transmits are processed in
//! equal chunks of transmits whose tables fit 64 KiB. A kernel then takes the channels one after the
//! other: it computes the receive distance, aperture, acceptance and window of every vector of the
//! tile **once per channel** (not once per transmit), sums the channel's samples over the transmits
//! (one trace at a time, so a transmit's trace window is read once for the whole tile), and adds the
//! weighted (and rotated) sum to the pixels. The transmit loop therefore only adds two delays,
//! splits the index, loads the taps and accumulates. On plans whose 8 consecutive depths span less
//! than 15 samples (`picmus`), the AVX2 kernel reads a vector's RF taps from one contiguous window
//! with in-register permutes; with 3 or more transmits the tile also tabulates, per lane, the
//! extreme differences between its transmit delay and lane 0's, so the kernel proves once per
//! channel and vector that every transmit's taps stay in one window, then runs up to four transmits
//! per pass without per-step checks; such plans shrink their tiles (down to 128 pixels) so that all
//! transmits fit one pass. With a single transmit there is nothing to amortise, and the AVX2
//! kernel computes each vector's geometry, taps and sum in one pass. Kernels: scalar (always compiled, the test
//! oracle), AVX2 + FMA (runtime-detected; also the kernel of AVX-512 CPUs: a separate AVX-512 kernel
//! was removed because no machine here could run its tests) and NEON (aarch64, currently the scalar
//! code). [`KernelChoice`] selects; rayon splits the image into tiles (`rayon::join`, no
//! allocation; depth first, so that each thread works through bands of depth across all lines and
//! a band's stretch of every trace stays in cache), each computed by one task with a fixed
//! summation order (transmit chunks, channels in order, transmits in order), so the output does
//! not depend on the thread count. The plan stores the pixels' positions tile by tile in the
//! kernels' layout, so a tile reads them as slices; the AVX2 kernel also skips its per-vector
//! record check for every channel whose distances to the tile's bounding box prove all taps
//! inside. Tile buffers live on the stack (about 260 KiB per worker).
//!
//! Non-finite samples propagate to the pixels that read them (and, in the SIMD kernels, possibly
//! to pixels whose masked-out lanes read them); the data is expected to be finite.
//!
//! ```
//! use sonochip::beamform::{BeamformConfig, Beamformer, DataLayout, RxArray};
//! use sonochip::grid::Grid;
//! use sonochip::probe::{Aperture, Probe};
//! use sonochip::sequence::Sequence;
//! use ndarray::Array2;
//!
//! let probe = Probe::linear(32, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
//! let ap = Aperture::full(&probe, None).unwrap();
//! let seq = Sequence::plane_waves(&ap, &[0.0], 1540.0).unwrap();
//! let grid = Grid::cartesian((-0.004, 0.004), 16, (0.005, 0.02), 64).unwrap();
//! let layout = DataLayout::rf(20e6, 0.0, 600, 5e6);
//! let bf = Beamformer::new(&RxArray::from_aperture(&ap), &seq, &grid, layout, BeamformConfig::default()).unwrap();
//! let data = ndarray::Array3::<f32>::zeros((1, 32, 600));
//! let mut img = Array2::zeros(grid.shape());
//! bf.beamform_raw_into(data.view(), img.view_mut()).unwrap();
//! assert!(img.iter().all(|&v| v == 0.0));
//! ```

use crate::channel_data::{ChannelData, Sample};
use crate::error::{DEFAULT_MEMORY_CAP_BYTES, Error, Result, check_size, finite, in_range, positive};
use crate::grid::Grid;
use crate::probe::Aperture;
use crate::sequence::{Sequence, TxKind};
use ndarray::{Array2, ArrayView3, ArrayViewMut2, Axis};
use num_complex::Complex32;
use std::mem::MaybeUninit;

#[cfg(target_arch = "x86_64")]
mod kernel_avx2;
#[cfg(target_arch = "aarch64")]
mod kernel_neon;
mod kernel_scalar;

/// Largest number of depths of one line in a tile.
pub const BLOCK: usize = 32;

/// Largest number of lines in a tile: a tile of up to `TILE_LINES × BLOCK` pixels shares each
/// channel's trace windows in cache. Square-ish tiles (32 × 32) keep each (channel, transmit)
/// window short, so fewer cache lines come from L3 per tile; they measured 10–25 % faster than
/// 8 × 128 on `picmus`, `vascular` and `cardiac`.
pub const TILE_LINES: usize = 32;

/// Pixels per vector in the tiles' layout (the AVX2 width; depths are padded to a multiple).
pub(crate) const LANES: usize = 8;

/// Largest number of pixels of a tile.
pub(crate) const TILE_MAX: usize = TILE_LINES * BLOCK;

/// Fewest transmits per chunk for which windowed RF tiles carry the transmit-delay differences that
/// let the SIMD kernels prove a vector's window once per channel (with fewer, the proof costs about
/// what it saves: `picmus` with one wave ran 15-30 % slower with it).
pub(crate) const WINDOW_PROOF_MIN_TRANSMITS: usize = 3;

/// Fewest pixels of a windowed RF tile without a coherence factor (frames with more transmits than
/// fit a tile of this size run in chunks).
const MIN_TILE: usize = 128;

/// Entries of a tile's per-(pixel, transmit) tables: a tile holds at most `TABLE / transmits`
/// pixels, and frames with more than `TABLE / LANES` transmits are processed in chunks.
const TABLE: usize = 16384;

/// Most transmits per frame with a coherence factor (the per-channel transmit sums must fit one
/// tile pass).
pub const MAX_CF_TRANSMITS: usize = TABLE / LANES;

/// Largest distance of a pixel or channel from the receive-aperture centroid, metres.
pub const MAX_DISTANCE_M: f64 = 10.0;

/// How a trace is read between samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Interpolation {
    /// The nearest sample.
    Nearest,
    /// Linear between the two neighbouring samples.
    #[default]
    Linear,
    /// Cubic convolution (Catmull-Rom / Keys a = −0.5) over four samples.
    Cubic,
}

/// Receive apodization window over the F-number aperture (u = 0 at the centre, 1 at the edge).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Window {
    /// 1 everywhere inside the aperture.
    #[default]
    Rectangular,
    /// `cos²(π u / 2)` (0 at the edge).
    Hann,
    /// `0.54 + 0.46 cos(π u)` (0.08 at the edge).
    Hamming,
    /// Flat for `u ≤ 1 − alpha`, then a Hann taper to 0 at the edge; `alpha` in `[0, 1]`
    /// (0 = rectangular, 1 = Hann).
    Tukey {
        /// Tapered fraction of the half-aperture.
        alpha: f64,
    },
}

/// Which kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KernelChoice {
    /// The fastest kernel the CPU supports.
    #[default]
    Auto,
    /// The scalar reference kernel.
    Scalar,
    /// AVX2 + FMA (x86-64; also the kernel of AVX-512 CPUs); an error if the CPU lacks them.
    Avx2,
}

impl KernelChoice {
    /// The explicit kernels this CPU can run, slowest first (always starts with `Scalar`).
    pub fn supported() -> Vec<KernelChoice> {
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut v = vec![KernelChoice::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                v.push(KernelChoice::Avx2);
            }
        }
        v
    }
}

/// The kernel a plan runs (resolved from [`KernelChoice`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "aarch64")]
    Neon,
}

fn resolve_kernel(choice: KernelChoice) -> Result<Kernel> {
    let supported = KernelChoice::supported();
    let has = |k| supported.contains(&k);
    match choice {
        KernelChoice::Scalar => Ok(Kernel::Scalar),
        KernelChoice::Auto => {
            #[cfg(target_arch = "x86_64")]
            {
                if has(KernelChoice::Avx2) {
                    return Ok(Kernel::Avx2);
                }
            }
            #[cfg(target_arch = "aarch64")]
            {
                return Ok(Kernel::Neon);
            }
            #[allow(unreachable_code)]
            Ok(Kernel::Scalar)
        }
        KernelChoice::Avx2 if !has(choice) => Err(Error::invalid(
            "kernel",
            format!("a kernel this CPU supports ({supported:?})"),
            format!("{choice:?}"),
        )),
        #[cfg(target_arch = "x86_64")]
        KernelChoice::Avx2 => Ok(Kernel::Avx2),
        #[allow(unreachable_patterns)]
        _ => Err(Error::invalid(
            "kernel",
            "a kernel this CPU supports",
            format!("{choice:?}"),
        )),
    }
}

/// Options of a beamformer plan.
#[derive(Debug, Clone, PartialEq)]
pub struct BeamformConfig {
    /// Interpolation between samples (default linear).
    pub interpolation: Interpolation,
    /// Receive F-number (`None`: the whole aperture at every depth). Must be > 0.
    pub f_number: Option<f64>,
    /// Window over the F-number aperture (ignored, i.e. rectangular, without an F-number).
    pub window: Window,
    /// Largest angle between a channel's normal and the direction to the pixel, radians in
    /// `(0, π/2]` (`None`: no limit).
    pub acceptance_angle_rad: Option<f64>,
    /// One weight per transmit (finite); `None`: all 1.
    pub tx_weights: Option<Vec<f32>>,
    /// Half-width of the focal zone of focused transmits, in wavelengths (> 0; default 2); see the
    /// [module docs](self).
    pub focal_zone_wavelengths: f64,
    /// Weight every pixel by its coherence factor `CF = |Σ s_c|² / (N · Σ |s_c|²)` (`s_c` the
    /// apodized, compounded signal of channel `c`, `N` the channels taking part; 0 where nothing
    /// takes part), which darkens incoherent clutter and side lobes. At most
    /// [`MAX_CF_TRANSMITS`] transmits. Default off.
    pub coherence_factor: bool,
    /// Which kernel runs (default: the fastest available).
    pub kernel: KernelChoice,
    /// Largest precomputed geometry the plan may allocate, bytes.
    pub memory_cap_bytes: u64,
}

impl Default for BeamformConfig {
    fn default() -> Self {
        BeamformConfig {
            interpolation: Interpolation::Linear,
            f_number: None,
            window: Window::Rectangular,
            acceptance_angle_rad: None,
            tx_weights: None,
            focal_zone_wavelengths: 2.0,
            coherence_factor: false,
            kernel: KernelChoice::Auto,
            memory_cap_bytes: DEFAULT_MEMORY_CAP_BYTES,
        }
    }
}

/// How the channel data a plan accepts is sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataLayout {
    /// Sampling rate, Hz.
    pub fs_hz: f64,
    /// Time of sample 0, seconds.
    pub t0_s: f64,
    /// Samples per trace.
    pub n_samples: usize,
    /// Centre frequency of the pulse, Hz (sets the wavelength of the focal zone).
    pub fc_hz: f64,
    /// Demodulation frequency for IQ data (`None`: RF).
    pub demod_hz: Option<f64>,
}

impl DataLayout {
    /// The layout of `data`.
    pub fn of<S: Sample>(data: &ChannelData<S>) -> DataLayout {
        let m = data.meta();
        DataLayout {
            fs_hz: m.fs_hz,
            t0_s: m.t0_s,
            n_samples: data.n_samples(),
            fc_hz: m.fc_hz,
            demod_hz: m.demod_hz,
        }
    }
    /// An RF layout.
    pub fn rf(fs_hz: f64, t0_s: f64, n_samples: usize, fc_hz: f64) -> DataLayout {
        DataLayout {
            fs_hz,
            t0_s,
            n_samples,
            fc_hz,
            demod_hz: None,
        }
    }
    /// An IQ layout demodulated at `demod_hz`.
    pub fn iq(fs_hz: f64, t0_s: f64, n_samples: usize, fc_hz: f64, demod_hz: f64) -> DataLayout {
        DataLayout {
            fs_hz,
            t0_s,
            n_samples,
            fc_hz,
            demod_hz: Some(demod_hz),
        }
    }
    fn validate(&self) -> Result<()> {
        positive("fs_hz", self.fs_hz)?;
        finite("t0_s", self.t0_s)?;
        positive("fc_hz", self.fc_hz)?;
        if let Some(f) = self.demod_hz {
            finite("demod_hz", f)?;
        }
        if self.n_samples == 0 || self.n_samples > crate::sim::MAX_SAMPLES {
            return Err(Error::invalid(
                "n_samples",
                format!("1..={}", crate::sim::MAX_SAMPLES),
                self.n_samples,
            ));
        }
        Ok(())
    }
}

/// The receive channels a plan sums: reference positions and normals.
#[derive(Debug, Clone, PartialEq)]
pub struct RxArray {
    positions_m: Vec<[f64; 3]>,
    normals: Vec<[f64; 3]>,
}

impl RxArray {
    /// The channels of an aperture (positions and normals).
    pub fn from_aperture(aperture: &Aperture) -> RxArray {
        RxArray {
            positions_m: aperture.channels().iter().map(|c| c.position_m).collect(),
            normals: aperture.channels().iter().map(|c| c.normal).collect(),
        }
    }
    /// Channels at `positions_m`, all facing +z (a flat array).
    pub fn from_positions(positions_m: &[[f64; 3]]) -> RxArray {
        RxArray {
            positions_m: positions_m.to_vec(),
            normals: vec![[0.0, 0.0, 1.0]; positions_m.len()],
        }
    }
    /// Replaces the normals (one per channel, non-zero finite vectors; normalised here).
    pub fn with_normals(mut self, normals: &[[f64; 3]]) -> Result<RxArray> {
        if normals.len() != self.positions_m.len() {
            return Err(Error::shape(
                "normals",
                format!("{} normals (one per channel)", self.positions_m.len()),
                normals.len().to_string(),
            ));
        }
        self.normals = normals.to_vec();
        Ok(self)
    }
    /// Channel positions, metres.
    pub fn positions_m(&self) -> &[[f64; 3]] {
        &self.positions_m
    }
    /// Number of channels.
    pub fn len(&self) -> usize {
        self.positions_m.len()
    }
    /// True without channels.
    pub fn is_empty(&self) -> bool {
        self.positions_m.is_empty()
    }
}

/// Interpolation code seen by the kernels.
pub(crate) const INTERP_NEAREST: u8 = 0;
pub(crate) const INTERP_LINEAR: u8 = 1;
pub(crate) const INTERP_CUBIC: u8 = 2;

/// Window code seen by the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowCode {
    Rect,
    Hann,
    Hamming,
    Tukey,
}

/// Everything a kernel needs besides geometry and data (plain values).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KernelParams {
    pub n_samples: usize,
    pub interp: u8,
    pub window: WindowCode,
    /// Tukey: flat part `1 − α` and `1 / α`.
    pub tukey_flat: f32,
    pub tukey_inv_alpha: f32,
    /// `cos(acceptance angle)`, or −2 (no limit).
    pub cos_accept: f32,
    /// IQ rotation: `frac(f_demod · t0)` in turns and `f_demod / fs` in turns per sample.
    pub phase0_turns: f32,
    pub turns_per_sample: f32,
    /// True when the two-way delays of 8 consecutive depths of a line span less than 15 samples
    /// (twice the largest distance between depths `k` and `k + 7`), so the SIMD kernels read the
    /// taps of a vector from one contiguous window.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub windowed: bool,
}

impl KernelParams {
    /// `(shift, in_lo, in_hi, out_lo, out_hi)`: with `y = idx + shift` and `q = floor(y)`, all taps
    /// lie inside the record iff `in_lo ≤ y < in_hi`, all outside iff `y < out_lo || y ≥ out_hi`.
    pub fn tap_bounds(&self) -> (f32, f32, f32, f32, f32) {
        let n = self.n_samples as f32;
        let (shift, jmin, jmax) = match self.interp {
            INTERP_NEAREST => (0.5, 0.0, 0.0),
            INTERP_LINEAR => (0.0, 0.0, 1.0),
            _ => (0.0, -1.0, 2.0),
        };
        (shift, -jmin, n - jmax, -jmax, n - jmin)
    }
}

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
    /// Smallest and largest transmit delay of each pixel over the chunk (the SIMD kernels' range
    /// check).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub lo: &'a [f32],
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub hi: &'a [f32],
    /// Windowed RF plans with at least [`WINDOW_PROOF_MIN_TRANSMITS`] transmits in the chunk only
    /// (empty otherwise): the smallest and largest difference, over the
    /// chunk's transmits, between each pixel's transmit delay and that of lane 0 of its vector (so
    /// that a kernel can prove once per channel that a vector's taps stay in one window).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub dlo: &'a [f32],
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub dhi: &'a [f32],
    /// True when every channel and pixel lies in `y = 0` with channel normals `+z` (the SIMD
    /// kernels then skip the elevation and normal terms).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub planar: bool,
    /// Bounding box of the tile's pixels: `[x_lo, x_hi, y_lo, y_hi, z_lo, z_hi]`.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub bbox: [f32; 6],
    /// Smallest and largest transmit delay over the tile's pixels and the chunk's transmits.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
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
        let b = self.bbox.map(f64::from);
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
        let (tx_lo, tx_hi) = (f64::from(self.tx_range.0), f64::from(self.tx_range.1));
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

/// Stack storage of one tile: geometry, transmit tables and sums.
///
/// Every array is [`SPREAD`] floats longer than it needs to be, and the fields keep their order
/// (`repr(C)`), so that the same entry of different arrays falls in different L1 sets: at exactly
/// 4 KiB apart, the ten arrays a vector reads would share one 8-way set.
#[repr(C)]
struct TileBuf {
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
}

/// Transmit model in sample units, relative to the plan origin.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TxModel {
    /// `s·x + c·z + c0`.
    Plane { s: f32, c: f32, c0: f32 },
    /// `|p − v| + c0`.
    Diverging { v: [f32; 3], c0: f32 },
    /// Focal-zone rule of the module docs.
    Focused {
        f: [f32; 3],
        u: [f32; 3],
        zone: f32,
        inv_zone: f32,
        c0: f32,
    },
}

impl TxModel {
    /// Transmit delay minus `t0`, in samples, of each pixel of a block.
    fn times(&self, px: &[f32], py: &[f32], pz: &[f32], out: &mut [f32]) {
        let n = out.len();
        let (px, py, pz) = (&px[..n], &py[..n], &pz[..n]);
        match *self {
            TxModel::Plane { s, c, c0 } => {
                for i in 0..n {
                    out[i] = s * px[i] + c * pz[i] + c0;
                }
            }
            TxModel::Diverging { v, c0 } => {
                for i in 0..n {
                    let (dx, dy, dz) = (px[i] - v[0], py[i] - v[1], pz[i] - v[2]);
                    out[i] = (dx * dx + dy * dy + dz * dz).sqrt() + c0;
                }
            }
            TxModel::Focused {
                f,
                u,
                zone,
                inv_zone,
                c0,
            } => {
                for i in 0..n {
                    let (dx, dy, dz) = (px[i] - f[0], py[i] - f[1], pz[i] - f[2]);
                    let d = (dx * dx + dy * dy + dz * dz).sqrt();
                    let a = dx * u[0] + dy * u[1] + dz * u[2];
                    let sd = if a >= 0.0 { d } else { -d };
                    let t = if a.abs() >= zone {
                        sd
                    } else {
                        a + a.abs() * inv_zone * (sd - a)
                    };
                    out[i] = t + c0;
                }
            }
        }
    }
}

/// A delay-and-sum plan. See the [module docs](self).
///
/// `Send + Sync`: one plan may run frames on several threads at once. The run methods allocate
/// nothing (tile tables and accumulators live on the stack, about 260 KiB per worker thread).
#[derive(Debug, Clone)]
pub struct Beamformer {
    layout: DataLayout,
    n_lines: usize,
    n_depths: usize,
    n_tx: usize,
    channels: ChannelArrays,
    positions_m: Vec<[f64; 3]>,
    tx_kinds: Vec<TxKind>,
    /// Pixel positions (samples) and `(2 F# / z)²`, tile by tile in the tiles' own padded vector
    /// layout (see [`TileGeometry`]), so that a tile reads one contiguous stretch of each.
    geo: TileGeometry,
    tx_models: Vec<TxModel>,
    tx_weights: Vec<f32>,
    params: KernelParams,
    planar: bool,
    kernel: Kernel,
    coherence: bool,
    /// Tile shape (lines × depths, depths a multiple of [`LANES`]) and transmits per tile pass.
    tile_lines: usize,
    tile_depths: usize,
    tx_chunk: usize,
}

/// Per-pixel arrays (positions and `(2 F# / z)²`) stored tile by tile, each tile in the layout
/// the kernels read: line `j`'s depths at `j · vl · LANES ..`, padded to whole vectors with copies
/// of the line's last depth (`vl = ⌈n / LANES⌉` for the tile's `n` depths). A tile then takes its
/// arrays as slices instead of gathering its lines from image-order arrays, a few short copies
/// per line from memory the hardware prefetchers could not follow (5 % of a single-transmit
/// `picmus` frame).
#[derive(Debug, Clone)]
struct TileGeometry {
    /// The four arrays, each `n_tiles · slot` long.
    arrays: [Vec<f32>; 4],
    /// Entries per tile (the largest tile's padded pixel count).
    slot: usize,
    /// Tiles along the depth axis.
    tiles_per_line_row: usize,
    /// Each tile's bounding box `[x_lo, x_hi, y_lo, y_hi, z_lo, z_hi]` ([`Tile::bbox`]).
    bboxes: Vec<[f32; 6]>,
}

impl TileGeometry {
    /// Rearranges image-order arrays (`n_lines × n_depths`, depth fastest).
    fn new(image: [&[f32]; 4], n_lines: usize, n_depths: usize, tile_lines: usize, tile_depths: usize) -> TileGeometry {
        let (slot, ta, tb) = Self::shape(n_lines, n_depths, tile_lines, tile_depths);
        let arrays = image.map(|src| {
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
        });
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
    fn len(n_lines: usize, n_depths: usize, tile_lines: usize, tile_depths: usize) -> usize {
        let (slot, ta, tb) = Self::shape(n_lines, n_depths, tile_lines, tile_depths);
        ta.saturating_mul(tb).saturating_mul(slot)
    }

    /// The first `np` entries of tile `(a, b)` (`a`-th along the lines, `b`-th along depth).
    fn tile(&self, a: usize, b: usize, np: usize) -> [&[f32]; 4] {
        let o = (a * self.tiles_per_line_row + b) * self.slot;
        [0, 1, 2, 3].map(|i| &self.arrays[i][o..o + np])
    }

    /// The bounding box of tile `(a, b)`.
    fn bbox(&self, a: usize, b: usize) -> [f32; 6] {
        self.bboxes[a * self.tiles_per_line_row + b]
    }
}

/// `(min, max)` of `v` (`(∞, −∞)` when empty).
fn min_max(v: &[f32]) -> (f32, f32) {
    v.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |a, &x| (a.0.min(x), a.1.max(x)))
}

/// Calls `f` with `data` as one contiguous slice, copying it only when it is not in standard layout.
fn with_contiguous<T: Clone, R>(data: ArrayView3<'_, T>, f: impl FnOnce(&[T]) -> R) -> R {
    match data.as_slice() {
        Some(s) => f(s),
        None => f(data.as_standard_layout().as_slice().unwrap_or(&[])),
    }
}

fn dist3(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

impl Beamformer {
    /// Plans delay-and-sum of data laid out as `layout`, received on `rx`, transmitted with
    /// `sequence`, onto `grid`.
    ///
    /// Errors: an empty or non-finite receive array; a sequence whose events do not match (speed of
    /// sound ≤ 0); invalid layout or configuration values; a grid or channel farther than
    /// [`MAX_DISTANCE_M`] from the channels' centroid; a grid whose every pixel's echoes fall outside
    /// the recorded time window (`InvalidParameter` on `grid`); geometry above the memory cap.
    pub fn new(
        rx: &RxArray,
        sequence: &Sequence,
        grid: &Grid,
        layout: DataLayout,
        config: BeamformConfig,
    ) -> Result<Beamformer> {
        layout.validate()?;
        if rx.is_empty() {
            return Err(Error::empty("rx", "at least one receive channel"));
        }
        let n_ch = rx.len();
        for p in rx.positions_m.iter().chain(&rx.normals) {
            crate::error::finite_point("rx", *p)?;
        }
        let c = sequence.c_m_s();
        in_range("c_m_s", c, 300.0, 5000.0)?;
        let kernel = resolve_kernel(config.kernel)?;
        let n_tx = sequence.len();
        let tx_weights = match &config.tx_weights {
            None => vec![1.0f32; n_tx],
            Some(w) => {
                if w.len() != n_tx {
                    return Err(Error::shape(
                        "tx_weights",
                        format!("{n_tx} weights (one per transmit)"),
                        w.len().to_string(),
                    ));
                }
                if let Some(bad) = w.iter().find(|v| !v.is_finite()) {
                    return Err(Error::invalid("tx_weights", "finite weights", bad));
                }
                w.clone()
            }
        };
        if let Some(f) = config.f_number {
            in_range("f_number", f, 1e-3, 1e3)?;
        }
        if let Some(a) = config.acceptance_angle_rad
            && !(a.is_finite() && a > 0.0 && a <= std::f64::consts::FRAC_PI_2)
        {
            return Err(Error::invalid("acceptance_angle_rad", "an angle in (0, pi/2]", a));
        }
        in_range("focal_zone_wavelengths", config.focal_zone_wavelengths, 1e-3, 1e3)?;
        let (window, tukey_flat, tukey_inv_alpha) = match (config.f_number, config.window) {
            (None, _) | (_, Window::Rectangular) => (WindowCode::Rect, 1.0, 1.0),
            (_, Window::Hann) => (WindowCode::Hann, 1.0, 1.0),
            (_, Window::Hamming) => (WindowCode::Hamming, 1.0, 1.0),
            (_, Window::Tukey { alpha }) => {
                in_range("window.alpha", alpha, 0.0, 1.0)?;
                if alpha == 0.0 {
                    (WindowCode::Rect, 1.0, 1.0)
                } else {
                    (WindowCode::Tukey, (1.0 - alpha) as f32, (1.0 / alpha) as f32)
                }
            }
        };
        let (n_lines, n_depths) = grid.shape();
        let n_px = n_lines * n_depths;
        check_size(
            "beamformer geometry",
            (n_px as u128) * 16 + (n_ch as u128) * 48 + (n_tx as u128) * 64,
            config.memory_cap_bytes,
        )?;

        // Origin: centroid of the receive channels; sample units: metres * fs / c.
        let mut origin = [0.0f64; 3];
        for p in &rx.positions_m {
            for k in 0..3 {
                origin[k] += p[k] / n_ch as f64;
            }
        }
        let k_s = layout.fs_hz / c;
        let rel = |p: [f64; 3]| {
            [
                (p[0] - origin[0]) * k_s,
                (p[1] - origin[1]) * k_s,
                (p[2] - origin[2]) * k_s,
            ]
        };
        let far = |name: &'static str, p: [f64; 3]| -> Result<()> {
            if dist3(p, origin) <= MAX_DISTANCE_M {
                Ok(())
            } else {
                Err(Error::invalid(
                    name,
                    format!("positions within {MAX_DISTANCE_M} m of the receive channels' centroid"),
                    format!("{p:?}"),
                ))
            }
        };
        let mut channels = ChannelArrays::default();
        for (p, n) in rx.positions_m.iter().zip(&rx.normals) {
            far("rx", *p)?;
            let norm = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            if norm <= 0.0 {
                return Err(Error::invalid("rx normals", "non-zero vectors", format!("{n:?}")));
            }
            let q = rel(*p);
            channels.x.push(q[0] as f32);
            channels.y.push(q[1] as f32);
            channels.z.push(q[2] as f32);
            channels.nx.push((n[0] / norm) as f32);
            channels.ny.push((n[1] / norm) as f32);
            channels.nz.push((n[2] / norm) as f32);
        }

        let mut px = Vec::with_capacity(n_px);
        let mut py = Vec::with_capacity(n_px);
        let mut pz = Vec::with_capacity(n_px);
        let mut ih2 = Vec::with_capacity(n_px);
        let mut pixels_planar = true;
        for l in 0..n_lines {
            for kd in 0..n_depths {
                let p = grid.position(l, kd);
                far("grid", p)?;
                let q = rel(p);
                px.push(q[0] as f32);
                py.push(q[1] as f32);
                pz.push(q[2] as f32);
                pixels_planar &= q[1] as f32 == 0.0;
                ih2.push(match config.f_number {
                    None => 0.0,
                    Some(f) => {
                        // Depth below the probe face (z = 0), in samples; floored to keep it finite.
                        let z = (p[2] * k_s).max(1e-3);
                        ((2.0 * f / z) * (2.0 * f / z)) as f32
                    }
                });
            }
        }
        let planar = pixels_planar
            && (0..n_ch).all(|i| {
                channels.y[i] == 0.0 && channels.nx[i] == 0.0 && channels.ny[i] == 0.0 && channels.nz[i] == 1.0
            });

        let t0 = layout.t0_s;
        let fs = layout.fs_hz;
        let mut tx_models = Vec::with_capacity(n_tx);
        for ev in sequence.events() {
            let m = match ev.kind() {
                TxKind::Plane { angle_rad } => {
                    let (s, co) = angle_rad.sin_cos();
                    TxModel::Plane {
                        s: s as f32,
                        c: co as f32,
                        c0: ((ev.arrival_time_s(origin) - t0) * fs) as f32,
                    }
                }
                TxKind::Diverging { virtual_source_m } => {
                    far("virtual_source_m", virtual_source_m)?;
                    let v = rel(virtual_source_m);
                    TxModel::Diverging {
                        v: [v[0] as f32, v[1] as f32, v[2] as f32],
                        c0: ((ev.arrival_time_s(virtual_source_m) - t0) * fs) as f32,
                    }
                }
                TxKind::Focused { focus_m } => {
                    far("focus_m", focus_m)?;
                    let f = rel(focus_m);
                    let len = (f[0] * f[0] + f[1] * f[1] + f[2] * f[2]).sqrt();
                    let u = if len > 0.0 {
                        [f[0] / len, f[1] / len, f[2] / len]
                    } else {
                        [0.0, 0.0, 1.0]
                    };
                    let zone = config.focal_zone_wavelengths * fs / layout.fc_hz;
                    TxModel::Focused {
                        f: [f[0] as f32, f[1] as f32, f[2] as f32],
                        u: [u[0] as f32, u[1] as f32, u[2] as f32],
                        zone: zone as f32,
                        inv_zone: (1.0 / zone) as f32,
                        c0: ((ev.arrival_time_s(focus_m) - t0) * fs) as f32,
                    }
                }
                #[allow(unreachable_patterns)]
                other => {
                    return Err(Error::invalid(
                        "sequence",
                        "plane, diverging or focused events",
                        format!("{other:?}"),
                    ));
                }
            };
            tx_models.push(m);
        }

        let (phase0_turns, turns_per_sample) = match layout.demod_hz {
            None => (0.0, 0.0),
            Some(fd) => {
                let ph = fd * t0;
                ((ph - ph.round()) as f32, (fd / fs) as f32)
            }
        };
        let params = KernelParams {
            n_samples: layout.n_samples,
            interp: match config.interpolation {
                Interpolation::Nearest => INTERP_NEAREST,
                Interpolation::Linear => INTERP_LINEAR,
                Interpolation::Cubic => INTERP_CUBIC,
            },
            window,
            tukey_flat,
            tukey_inv_alpha,
            cos_accept: config.acceptance_angle_rad.map_or(-2.0, |a| a.cos() as f32),
            phase0_turns,
            turns_per_sample,
            windowed: {
                let mut span = 0.0f32;
                for l in 0..n_lines {
                    let g = l * n_depths;
                    for k in 0..n_depths.saturating_sub(LANES - 1) {
                        let (a, b) = (g + k, g + k + LANES - 1);
                        let d = ((px[b] - px[a]).powi(2) + (py[b] - py[a]).powi(2) + (pz[b] - pz[a]).powi(2)).sqrt();
                        span = span.max(2.0 * d);
                    }
                }
                span < 14.5
            },
        };
        // Tile shape: full tiles (so that many lines share each channel's trace windows in cache)
        // with the transmits in chunks whose tables fit `TABLE` entries; with a coherence factor,
        // tiles small enough for all transmits in one pass.
        let cap = if config.coherence_factor {
            ((TABLE / n_tx.max(1)).clamp(LANES, TILE_MAX) / LANES) * LANES
        } else if params.windowed && layout.demod_hz.is_none() {
            // Windowed RF: tiles small enough for all transmits in one pass (down to `MIN_TILE`),
            // which amortises each vector's receive geometry and window proof over every transmit
            // (+9 % on `picmus` 75 waves; IQ, whose taps are lane loads, lost 25 % this way).
            ((TABLE / n_tx.max(1)).clamp(MIN_TILE, TILE_MAX) / LANES) * LANES
        } else {
            TILE_MAX
        };
        let tile_depths = cap.min(n_depths.div_ceil(LANES) * LANES).min(BLOCK);
        let tile_lines = (cap / tile_depths).clamp(1, TILE_LINES);
        // Equal chunks of at most `TABLE / tile pixels` transmits.
        let most = (TABLE / (tile_lines * tile_depths)).clamp(1, n_tx.max(1));
        let tx_chunk = n_tx.max(1).div_ceil(n_tx.max(1).div_ceil(most));
        if config.coherence_factor && tx_chunk < n_tx {
            return Err(Error::invalid(
                "coherence_factor",
                format!("at most {MAX_CF_TRANSMITS} transmits with a coherence factor"),
                format!("{n_tx} transmits"),
            ));
        }
        // The plan stores every line padded to whole vectors and every tile to a full slot: at
        // most 8 entries per pixel for grids of fewer than 8 depths, so bound it (before
        // allocating) by twice the largest grid.
        let padded = TileGeometry::len(n_lines, n_depths, tile_lines, tile_depths);
        if padded > 2 * crate::grid::MAX_PIXELS {
            return Err(Error::invalid(
                "grid",
                format!(
                    "at most {} pixels once each line is padded to whole {LANES}-pixel vectors and whole tiles",
                    2 * crate::grid::MAX_PIXELS
                ),
                format!("{padded} ({n_lines} lines × {n_depths} depths)"),
            ));
        }
        let bf = Beamformer {
            layout,
            n_lines,
            n_depths,
            n_tx,
            channels,
            positions_m: rx.positions_m.clone(),
            tx_kinds: sequence.events().iter().map(|e| e.kind()).collect(),
            geo: TileGeometry::new([&px, &py, &pz, &ih2], n_lines, n_depths, tile_lines, tile_depths),
            tx_models,
            tx_weights,
            params,
            planar,
            kernel,
            coherence: config.coherence_factor,
            tile_lines,
            tile_depths,
            tx_chunk,
        };
        bf.check_grid_in_record(&px, &py, &pz)?;
        Ok(bf)
    }

    /// A plan for data like `data` (its layout, channel positions — channels facing +z — and
    /// sequence) onto `grid`.
    pub fn for_data<S: Sample>(data: &ChannelData<S>, grid: &Grid, config: BeamformConfig) -> Result<Beamformer> {
        let m = data.meta();
        Beamformer::new(
            &RxArray::from_positions(&m.channel_positions_m),
            &m.sequence,
            grid,
            DataLayout::of(data),
            config,
        )
    }

    /// Errors if no pixel's echo window (earliest to latest arrival over the channels' bounding box,
    /// any transmit) overlaps the record.
    fn check_grid_in_record(&self, px: &[f32], py: &[f32], pz: &[f32]) -> Result<()> {
        let ch = &self.channels;
        let (bx, by, bz) = (min_max(&ch.x), min_max(&ch.y), min_max(&ch.z));
        let span = |lo: f32, hi: f32, p: f32| -> (f32, f32) {
            let near = if p < lo {
                lo - p
            } else if p > hi {
                p - hi
            } else {
                0.0
            };
            (near, (p - lo).abs().max((p - hi).abs()))
        };
        let last = (self.layout.n_samples - 1) as f32 + 3.0;
        let mut t = [0.0f32; BLOCK];
        for m in &self.tx_models {
            for start in (0..px.len()).step_by(BLOCK) {
                let end = (start + BLOCK).min(px.len());
                let n = end - start;
                m.times(&px[start..end], &py[start..end], &pz[start..end], &mut t[..n]);
                for (i, &ti) in t[..n].iter().enumerate() {
                    let (ax, bxm) = span(bx.0, bx.1, px[start + i]);
                    let (ay, bym) = span(by.0, by.1, py[start + i]);
                    let (az, bzm) = span(bz.0, bz.1, pz[start + i]);
                    let early = ti + (ax * ax + ay * ay + az * az).sqrt();
                    let late = ti + (bxm * bxm + bym * bym + bzm * bzm).sqrt();
                    if late >= -3.0 && early <= last {
                        return Ok(());
                    }
                }
            }
        }
        Err(Error::invalid(
            "grid",
            "a grid whose echoes fall at least partly inside the recorded time window",
            "every pixel's echoes outside the record",
        ))
    }

    /// Shape of the images this plan writes: `(n_lines, n_depths)` of the grid.
    pub fn image_shape(&self) -> (usize, usize) {
        (self.n_lines, self.n_depths)
    }
    /// The layout of the data this plan accepts.
    pub fn layout(&self) -> DataLayout {
        self.layout
    }
    /// Expected data shape `(n_tx, n_channels, n_samples)`.
    pub fn data_shape(&self) -> (usize, usize, usize) {
        (self.n_tx, self.channels.len(), self.layout.n_samples)
    }
    /// The kernel the plan runs.
    pub fn kernel(&self) -> KernelChoice {
        match self.kernel {
            Kernel::Scalar => KernelChoice::Scalar,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => KernelChoice::Avx2,
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => KernelChoice::Scalar,
        }
    }
    /// Points per frame: pixels × channels × transmits.
    pub fn points_per_frame(&self) -> usize {
        self.n_lines * self.n_depths * self.channels.len() * self.n_tx
    }

    fn check_meta<S: Sample>(&self, data: &ChannelData<S>) -> Result<()> {
        let m = data.meta();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-30);
        if !close(m.fs_hz, self.layout.fs_hz) {
            return Err(Error::invalid(
                "fs_hz",
                format!("the plan's {} Hz", self.layout.fs_hz),
                m.fs_hz,
            ));
        }
        if (m.t0_s - self.layout.t0_s).abs() > 1e-3 / self.layout.fs_hz {
            return Err(Error::invalid(
                "t0_s",
                format!("the plan's {} s", self.layout.t0_s),
                m.t0_s,
            ));
        }
        match (m.demod_hz, self.layout.demod_hz) {
            (None, None) => {}
            (Some(a), Some(b)) if close(a, b) => {}
            (a, b) => {
                return Err(Error::invalid(
                    "demod_hz",
                    format!("the plan's {b:?}"),
                    format!("{a:?}"),
                ));
            }
        }
        if m.channel_positions_m.len() != self.positions_m.len()
            || m.channel_positions_m
                .iter()
                .zip(&self.positions_m)
                .any(|(a, b)| dist3(*a, *b) > 1e-9)
        {
            return Err(Error::shape(
                "channel_positions_m",
                "the plan's receive channel positions",
                "different positions",
            ));
        }
        if m.sequence.len() != self.n_tx
            || m.sequence
                .events()
                .iter()
                .zip(&self.tx_kinds)
                .any(|(e, k)| e.kind() != *k)
        {
            return Err(Error::shape(
                "sequence",
                "the plan's transmit events",
                "different events",
            ));
        }
        Ok(())
    }

    fn check_shapes(&self, data: (usize, usize, usize), out: (usize, usize)) -> Result<()> {
        if data != self.data_shape() {
            return Err(Error::shape(
                "data",
                format!("{:?} [tx, channel, sample]", self.data_shape()),
                format!("{data:?}"),
            ));
        }
        if out != self.image_shape() {
            return Err(Error::shape(
                "image",
                format!("{:?} [line, depth]", self.image_shape()),
                format!("{out:?}"),
            ));
        }
        Ok(())
    }

    /// Beamforms RF `data` into `image` (`[n_lines, n_depths]`), allocating nothing.
    ///
    /// Errors: `ShapeMismatch` for data or image shapes, channel positions or events other than the
    /// plan's; `InvalidParameter` for another `fs_hz`, `t0_s` or IQ data.
    pub fn beamform_into(&self, data: &ChannelData<f32>, image: ArrayViewMut2<'_, f32>) -> Result<()> {
        self.check_meta(data)?;
        self.beamform_raw_into(data.data().view(), image)
    }

    /// Beamforms raw RF samples `[tx, channel, sample]` (laid out as the plan's [`DataLayout`]) into
    /// `image`, allocating nothing when `data` is in standard layout.
    pub fn beamform_raw_into(&self, data: ArrayView3<'_, f32>, image: ArrayViewMut2<'_, f32>) -> Result<()> {
        if self.layout.demod_hz.is_some() {
            return Err(Error::invalid("data", "IQ samples for an IQ plan", "RF samples"));
        }
        self.check_shapes(data.dim(), image.dim())?;
        with_contiguous(data, |slice| {
            self.run(image, &|l, lines, k0, n, out: &mut [f32]| {
                self.tile_pass(
                    l,
                    lines,
                    k0,
                    n,
                    |t, k0, nk, s| {
                        self.kernel_rf(
                            t,
                            &slice[k0 * t.ch.len() * self.layout.n_samples..]
                                [..nk * t.ch.len() * self.layout.n_samples],
                            s,
                        )
                    },
                    |o, re, _| out[o] = re,
                );
            })
        });
        Ok(())
    }

    /// Beamforms IQ `data` into the complex `image`, allocating nothing.
    ///
    /// Errors as [`Beamformer::beamform_into`]; `InvalidParameter` for RF data or another `demod_hz`.
    pub fn beamform_iq_into(&self, data: &ChannelData<Complex32>, image: ArrayViewMut2<'_, Complex32>) -> Result<()> {
        self.check_meta(data)?;
        self.beamform_iq_raw_into(data.data().view(), image)
    }

    /// Beamforms raw IQ samples `[tx, channel, sample]` into `image`.
    pub fn beamform_iq_raw_into(
        &self,
        data: ArrayView3<'_, Complex32>,
        image: ArrayViewMut2<'_, Complex32>,
    ) -> Result<()> {
        if self.layout.demod_hz.is_none() {
            return Err(Error::invalid("data", "RF samples for an RF plan", "IQ samples"));
        }
        self.check_shapes(data.dim(), image.dim())?;
        with_contiguous(data, |slice| {
            self.run(image, &|l, lines, k0, n, out: &mut [Complex32]| {
                self.tile_pass(
                    l,
                    lines,
                    k0,
                    n,
                    |t, k0, nk, s| {
                        self.kernel_iq(
                            t,
                            &slice[k0 * t.ch.len() * self.layout.n_samples..]
                                [..nk * t.ch.len() * self.layout.n_samples],
                            s,
                        )
                    },
                    |o, re, im| out[o] = Complex32::new(re, im),
                );
            })
        });
        Ok(())
    }

    /// Allocating wrapper of [`Beamformer::beamform_into`].
    pub fn beamform(&self, data: &ChannelData<f32>) -> Result<Array2<f32>> {
        let mut img = Array2::zeros(self.image_shape());
        self.beamform_into(data, img.view_mut())?;
        Ok(img)
    }

    /// Allocating wrapper of [`Beamformer::beamform_iq_into`].
    pub fn beamform_iq(&self, data: &ChannelData<Complex32>) -> Result<Array2<Complex32>> {
        let mut img = Array2::zeros(self.image_shape());
        self.beamform_iq_into(data, img.view_mut())?;
        Ok(img)
    }

    /// Runs `f(first_line, lines, first_depth, n, tile)` on the plan's tiles (`tile[j · tile_depths +
    /// i]` is line `first_line + j`, depth `first_depth + i`), in parallel (rayon `join`, no
    /// allocation), each tile computed by exactly one task.
    fn run<T: Copy + Send + Sync + Default>(&self, image: ArrayViewMut2<'_, T>, f: &TileFn<'_, T>) {
        split(image, 0, 0, (self.tile_lines, self.tile_depths), f);
    }

    /// One tile: fills its geometry, runs `kernel(tile, first_transmit, transmits, sums)` on each
    /// chunk of transmits, and hands every pixel's result to `put(j · tile_depths + i, re, im)`
    /// (scaled by the coherence factor when the plan has one).
    fn tile_pass(
        &self,
        line0: usize,
        lines: usize,
        k0: usize,
        n: usize,
        mut kernel: impl FnMut(&Tile<'_>, usize, usize, &mut Sums<'_>),
        mut put: impl FnMut(usize, f32, f32),
    ) {
        let mut b = TileBuf {
            tx: [MaybeUninit::uninit(); TABLE + SPREAD],
            tcos: [MaybeUninit::uninit(); TABLE + SPREAD],
            tsin: [MaybeUninit::uninit(); TABLE + SPREAD],
            lo: [0.0; TILE_MAX + SPREAD],
            hi: [0.0; TILE_MAX + SPREAD],
            dlo: [0.0; TILE_MAX + SPREAD],
            dhi: [0.0; TILE_MAX + SPREAD],
            re: [0.0; TILE_MAX + SPREAD],
            im: [0.0; TILE_MAX + SPREAD],
            inc: [0.0; TILE_MAX + SPREAD],
            cnt: [0.0; TILE_MAX + SPREAD],
            tmp: [0.0; TILE_MAX + SPREAD],
        };
        let vl = n.div_ceil(LANES);
        let nv = lines * vl;
        let np = nv * LANES;
        let (a, bt) = (line0 / self.tile_lines, k0 / self.tile_depths);
        let [px, py, pz, ih2] = self.geo.tile(a, bt, np);
        let bbox = self.geo.bbox(a, bt);
        let iq = self.layout.demod_hz.is_some();
        for tx0 in (0..self.n_tx).step_by(self.tx_chunk) {
            let nk = (self.n_tx - tx0).min(self.tx_chunk);
            let deltas = self.params.windowed && !iq && nk >= WINDOW_PROOF_MIN_TRANSMITS;
            b.lo[..np].fill(f32::INFINITY);
            b.hi[..np].fill(f32::NEG_INFINITY);
            if deltas {
                b.dlo[..np].fill(f32::INFINITY);
                b.dhi[..np].fill(f32::NEG_INFINITY);
            }
            for k in 0..nk {
                self.tx_models[tx0 + k].times(px, py, pz, &mut b.tmp[..np]);
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
                        // Lane arrays (no bounds checks inside): LLVM vectorises the phasors.
                        let x: [f32; LANES] =
                            std::array::from_fn(|l| self.params.phase0_turns + src[l] * self.params.turns_per_sample);
                        let mut co = [0.0f32; LANES];
                        let mut si = [0.0f32; LANES];
                        for l in 0..LANES {
                            (co[l], si[l]) = kernel_scalar::phasor(x[l]);
                        }
                        for (l, (c, s)) in co.iter().zip(&si).enumerate() {
                            b.tcos[e0 + l].write(w * c);
                            b.tsin[e0 + l].write(w * s);
                        }
                    }
                }
            }
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
                lo: &b.lo[..np],
                hi: &b.hi[..np],
                dlo: if deltas { &b.dlo[..np] } else { &[] },
                dhi: if deltas { &b.dhi[..np] } else { &[] },
                planar: self.planar,
                bbox,
                tx_range: (min_max(&b.lo[..np]).0, min_max(&b.hi[..np]).1),
            };
            let mut sums = Sums {
                re: &mut b.re[..np],
                im: &mut b.im[..np],
                inc: &mut b.inc[..np],
                cnt: &mut b.cnt[..np],
            };
            kernel(&tile, tx0, nk, &mut sums);
        }
        for j in 0..lines {
            for i in 0..n {
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

    fn kernel_rf(&self, t: &Tile<'_>, data: &[f32], s: &mut Sums<'_>) {
        let p = &self.params;
        match (self.kernel, self.coherence) {
            (Kernel::Scalar, false) => kernel_scalar::rf_tile::<false>(p, t, data, s),
            (Kernel::Scalar, true) => kernel_scalar::rf_tile::<true>(p, t, data, s),
            // SAFETY: `Kernel::Avx2` is only chosen after detecting AVX2 and FMA; the tile's slices
            // have the lengths `tile_pass` gives them and `data` holds the chunk's transmits.
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx2, false) => unsafe { kernel_avx2::rf_tile::<false>(p, t, data, s) },
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx2, true) => unsafe { kernel_avx2::rf_tile::<true>(p, t, data, s) },
            #[cfg(target_arch = "aarch64")]
            (Kernel::Neon, cf) => kernel_neon::rf_tile(p, t, data, s, cf),
        }
    }

    fn kernel_iq(&self, t: &Tile<'_>, data: &[Complex32], s: &mut Sums<'_>) {
        let p = &self.params;
        match (self.kernel, self.coherence) {
            (Kernel::Scalar, false) => kernel_scalar::iq_tile::<false>(p, t, data, s),
            (Kernel::Scalar, true) => kernel_scalar::iq_tile::<true>(p, t, data, s),
            // SAFETY: as in `kernel_rf`.
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx2, false) => unsafe { kernel_avx2::iq_tile::<false>(p, t, data, s) },
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx2, true) => unsafe { kernel_avx2::iq_tile::<true>(p, t, data, s) },
            #[cfg(target_arch = "aarch64")]
            (Kernel::Neon, cf) => kernel_neon::iq_tile(p, t, data, s, cf),
        }
    }
}

/// The initialised prefix of a tile table (the table loops of `tile_pass` write every entry below
/// `nv · nk · LANES` before the kernels read them).
fn init(t: &[MaybeUninit<f32>]) -> &[f32] {
    // SAFETY: every element of `t` was written (see above); `MaybeUninit<f32>` has the layout of `f32`.
    unsafe { std::slice::from_raw_parts(t.as_ptr().cast::<f32>(), t.len()) }
}

/// A tile callback: `(first_line, lines, first_depth, n, tile)`.
type TileFn<'a, T> = dyn Fn(usize, usize, usize, usize, &mut [T]) + Sync + 'a;

/// Recursive split of `view` into tiles of at most `tile.0` lines × `tile.1` depths with
/// `rayon::join`; the leaves run `f` on their tile and copy it into the view.
///
/// Depth is split first, so that a thread runs a band of depths across all lines before going
/// deeper: the band's stretch of every trace then stays in cache for all its tiles, where lines
/// first made every group of lines stream the whole record again (75 `picmus` waves are 77 MB).
/// Measured with 2 threads: `picmus` 75 waves +9 %, 1 wave +13 %, `vascular` RF +14 %, `cardiac`
/// IQ +12 %, the others unchanged.
fn split<T: Copy + Send + Sync + Default>(
    mut view: ArrayViewMut2<'_, T>,
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
    let mut buf = [T::default(); TILE_MAX];
    f(line0, rows, k0, cols, &mut buf);
    for (j, mut row) in view.outer_iter_mut().enumerate() {
        for i in 0..cols {
            row[i] = buf[j * tile.1 + i];
        }
    }
}

/// `cos(π·u/2)` as a polynomial in `s = u²` (`u ∈ [0, 1]`, error < 1e-8). Shared by all kernels.
#[inline(always)]
pub(crate) fn cos_half_pi_sq(s: f32) -> f32 {
    let mut c = COS_HALF_PI_POLY[0];
    for &k in &COS_HALF_PI_POLY[1..] {
        c = c * s + k;
    }
    c
}

/// Taylor coefficients of `cos(π u / 2)` in `u²`, highest first.
pub(crate) const COS_HALF_PI_POLY: [f32; 7] = [
    4.710_874_8e-7,
    -2.520_204_2e-5,
    9.192_602_7e-4,
    -2.086_348e-2,
    2.536_695e-1,
    -1.233_700_6,
    1.0,
];

/// `sin(2π·x)` for `x` in turns within `[-0.5, 0.5]` (polynomial, error < 1e-6). Shared by kernels.
#[inline(always)]
pub(crate) fn sin_turns(x: f32) -> f32 {
    // Reflect into [-0.25, 0.25]: sin(2π(0.5 − x)) = sin(2πx).
    let ax = x.abs();
    let r = 0.25 - (0.25 - ax).abs();
    let r = if x < 0.0 { -r } else { r };
    let y = r * std::f32::consts::TAU;
    let y2 = y * y;
    let mut p = SIN_POLY[0];
    for &k in &SIN_POLY[1..] {
        p = p * y2 + k;
    }
    p * y
}

/// Taylor coefficients of `sin(y)/y` in `y²`, highest first.
pub(crate) const SIN_POLY: [f32; 7] = [
    1.0 / 6_227_020_800.0,
    -1.0 / 39_916_800.0,
    1.0 / 362_880.0,
    -1.0 / 5040.0,
    1.0 / 120.0,
    -1.0 / 6.0,
    1.0,
];

/// Window weight at `u2 = u²` (the caller checks `u2 ≤ 1`). Shared by all kernels' tails.
#[inline(always)]
pub(crate) fn window_weight(p: &KernelParams, u2: f32) -> f32 {
    match p.window {
        WindowCode::Rect => 1.0,
        WindowCode::Hann => {
            let c = cos_half_pi_sq(u2);
            c * c
        }
        WindowCode::Hamming => {
            let c = cos_half_pi_sq(u2);
            0.08 + 0.92 * (c * c)
        }
        WindowCode::Tukey => {
            let v = ((u2.sqrt() - p.tukey_flat) * p.tukey_inv_alpha).max(0.0);
            let c = cos_half_pi_sq(v * v);
            c * c
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
        let g = TileGeometry::new([&img, &img, &img, &img], n_lines, n_depths, tl, td);
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
                lo: &tx,
                hi: &tx,
                dlo: &[],
                dhi: &[],
                planar: false,
                bbox: [x0, x1, y0, y1, z0, z1],
                tx_range: (t0, t1),
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
    fn polynomials_are_accurate() {
        for i in 0..=100 {
            let u = i as f32 / 100.0;
            let c = cos_half_pi_sq(u * u);
            assert!((c - (std::f32::consts::FRAC_PI_2 * u).cos()).abs() < 2e-6, "{u}");
            let x = -0.5 + i as f32 / 100.0;
            assert!((sin_turns(x) - (std::f32::consts::TAU * x).sin()).abs() < 2e-6, "{x}");
        }
    }

    #[test]
    fn phasor_reduces_any_phase() {
        // Against f64 (the f32 input's exact value): integers, ties, fractions and thousands of
        // turns (IQ phases reach that many), both signs.
        let mut xs = vec![
            0.0f32,
            0.5,
            -0.5,
            1.5,
            -2.5,
            0.25,
            -0.75,
            3.999_999_8,
            1234.567,
            -4321.125,
            40_000.3,
        ];
        xs.extend((0..2000).map(|i| (i as f32 - 1000.0) * 0.618_034 + 0.001 * i as f32));
        for &x in &xs {
            let (c, s) = kernel_scalar::phasor(x);
            let a = std::f64::consts::TAU * (x as f64);
            assert!((c as f64 - a.cos()).abs() < 3e-6, "cos at {x}: {c} vs {}", a.cos());
            assert!((s as f64 - a.sin()).abs() < 3e-6, "sin at {x}: {s} vs {}", a.sin());
        }
        // Beyond 2^22 turns an f32 no longer resolves half a turn: still a unit phasor.
        for x in [4.2e6f32, -8.4e6, 1e9, -3e12, f32::MAX] {
            let (c, s) = kernel_scalar::phasor(x);
            assert!(((c * c + s * s) - 1.0).abs() < 1e-5, "{x}: ({c}, {s})");
        }
    }

    #[test]
    fn plans_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Beamformer>();
        check::<crate::demod::Demodulator>();
    }

    #[test]
    fn kernel_choice_resolves() {
        assert_eq!(resolve_kernel(KernelChoice::Scalar), Ok(Kernel::Scalar));
        assert!(resolve_kernel(KernelChoice::Auto).is_ok());
        let k = KernelChoice::Avx2;
        assert_eq!(resolve_kernel(k).is_ok(), KernelChoice::supported().contains(&k));
    }
}
