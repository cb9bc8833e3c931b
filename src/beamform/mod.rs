//! Delay-and-sum beamforming: a plan built once ([`Beamformer::new`], from the [`Metadata`] that
//! describes the data) and run on every frame ([`Beamformer::beamform_into`] for RF,
//! [`Beamformer::beamform_iq_into`] for baseband IQ).
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
//! total delay, so the IQ image is the analytic (baseband-shifted) version of the RF image. `c` is
//! the sequence's speed of sound unless [`BeamformConfig::sound_speed_m_s`] sets another; the
//! transmit model then keeps the wave's geometry and lets it travel at that speed.
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
//!   virtual-source model across the focal plane off axis;
//! * explicit delay tables ([`crate::sequence::TxEvent::from_delays`]) use the sequence's model (the
//!   first arrival of the channels' elementary waves), evaluated for every pixel at plan time.
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
//! # How it runs, and what it costs
//!
//! The plan translates everything into plain `f32` arrays in sample units. Images are processed
//! in tiles of up to 32 lines × 32 depths; for each tile the transmit delays are tabulated once,
//! and a kernel (scalar, AVX2 + FMA, AVX-512, NEON, chosen by [`KernelChoice`]) takes the channels one after the other, computing each vector's receive
//! geometry once per channel and summing that channel's samples over the transmits. Rayon splits
//! the image into tiles (depth first); every tile is computed by one task in a fixed order, so the
//! output does not depend on the thread count.
//!
//! Cost per frame: one interpolation, weight and accumulation per point (pixel × channel ×
//! transmit) plus one receive geometry per (pixel, channel); the run methods allocate nothing.
//! The plan holds about 32 bytes per pixel and one 285 KiB tile buffer per thread
//! ([`Beamformer::memory_bytes`]). Measured throughput is in the README and `docs/performance.md`.
//!
//! Non-finite samples propagate to the pixels that read them (and, in the SIMD kernels, possibly
//! to pixels whose masked-out lanes read them); the data is expected to be finite.
//!
//! ```
//! use sonochip::prelude::*;
//! # fn main() -> sonochip::Result<()> {
//! let probe = Probe::linear(32, 3e-4, 2.7e-4, 5e-3, 1)?;
//! let ap = Aperture::full(&probe, None)?;
//! let seq = Sequence::plane_waves(&ap, &[0.0], 1540.0)?;
//! let meta = Metadata::for_aperture(Sampling::new(20e6, 0.0, 600)?, 5e6, seq, &ap)?;
//! let grid = Grid::cartesian((-0.004, 0.004), 16, (0.005, 0.02), 64)?;
//! let bf = Beamformer::new(&meta, &grid, BeamformConfig::default())?;
//! let data = Array3::<f32>::zeros(meta.data_shape());
//! let mut img = Array2::zeros(grid.shape());
//! bf.beamform_raw_into(data.view(), img.view_mut())?;
//! assert!(img.iter().all(|&v| v == 0.0));
//! # Ok(()) }
//! ```

use crate::channel_data::{ChannelData, Metadata, Sample, check_fits};
use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView3, ArrayViewMut2};
use num_complex::Complex32;

mod apodization;
mod config;
mod kernels;
mod plan;
mod tile;
mod tx_model;

pub use apodization::Window;
pub use config::{BeamformConfig, Interpolation, KernelChoice};

use config::Kernel;
use kernels::KernelParams;
use tile::{ChannelArrays, TileFn, TileGeometry, TilePool, split};
use tx_model::TxModel;

/// Most transmits per frame with a coherence factor (the per-channel transmit sums must fit one
/// tile pass).
pub const MAX_CF_TRANSMITS: usize = tile::TABLE / tile::LANES;

/// Largest distance of a pixel, virtual source, focus or channel from the receive channels'
/// centroid, metres.
pub const MAX_DISTANCE_M: f64 = 10.0;

/// A delay-and-sum plan. See the [module docs](self).
///
/// `Send + Sync`: one plan may run frames on several threads at once. The run methods allocate
/// nothing once the plan has lent a tile buffer to as many tiles at a time as run (rayon's thread
/// count when the plan was made).
#[derive(Clone)]
pub struct Beamformer {
    /// The data this plan accepts.
    meta: Metadata,
    n_lines: usize,
    n_depths: usize,
    n_tx: usize,
    channels: ChannelArrays,
    /// Pixel positions (samples), `(2 F# / z)²` and explicit transmit tables, tile by tile in the
    /// tiles' own padded vector layout.
    geo: TileGeometry,
    tx_models: Vec<TxModel>,
    tx_weights: Vec<f32>,
    params: KernelParams,
    planar: bool,
    kernel: Kernel,
    coherence: bool,
    /// Tile shape (lines × depths, depths a multiple of the vector width) and transmits per pass.
    tile_lines: usize,
    tile_depths: usize,
    tx_chunk: usize,
    /// Working buffers lent to the tiles.
    pool: TilePool,
    /// The plan's memory estimate, bytes.
    memory_bytes: u128,
}

impl std::fmt::Debug for Beamformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Beamformer")
            .field("data_shape", &self.data_shape())
            .field("image_shape", &self.image_shape())
            .field("demod_hz", &self.meta.demod_hz())
            .field("kernel", &self.kernel())
            .field("coherence_factor", &self.coherence)
            .field("tile", &(self.tile_lines, self.tile_depths, self.tx_chunk))
            .field("memory_bytes", &self.memory_bytes)
            .finish_non_exhaustive()
    }
}

/// Calls `f` with `data` as one contiguous slice, copying it only when it is not in standard layout.
fn with_contiguous<T: Clone, R>(data: ArrayView3<'_, T>, f: impl FnOnce(&[T]) -> R) -> R {
    match data.as_slice() {
        Some(s) => f(s),
        None => f(data.as_standard_layout().as_slice().unwrap_or(&[])),
    }
}

impl Beamformer {
    /// A plan for data like `data` (its metadata) onto `grid`.
    pub fn for_data<S: Sample>(
        data: &ChannelData<S>,
        grid: &crate::grid::Grid,
        config: BeamformConfig,
    ) -> Result<Self> {
        Beamformer::new(data.meta(), grid, config)
    }

    /// Shape of the images this plan writes: `(n_lines, n_depths)` of the grid.
    pub fn image_shape(&self) -> (usize, usize) {
        (self.n_lines, self.n_depths)
    }
    /// The description of the data this plan accepts.
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }
    /// Expected data shape `(n_tx, n_channels, n_samples)`.
    pub fn data_shape(&self) -> (usize, usize, usize) {
        self.meta.data_shape()
    }
    /// The kernel the plan runs.
    pub fn kernel(&self) -> KernelChoice {
        self.kernel.choice()
    }
    /// Points per frame: pixels × channels × transmits.
    pub fn points_per_frame(&self) -> usize {
        self.n_lines * self.n_depths * self.channels.len() * self.n_tx
    }
    /// The plan's memory, bytes, as estimated (and checked against the cap) before planning.
    pub fn memory_bytes(&self) -> u128 {
        self.memory_bytes
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
        check_fits(&self.meta, data.meta())?;
        self.beamform_raw_into(data.data().view(), image)
    }

    /// Beamforms raw RF samples `[tx, channel, sample]` (as the plan's [`Metadata`] describes) into
    /// `image`, allocating nothing when `data` is in standard layout.
    pub fn beamform_raw_into(&self, data: ArrayView3<'_, f32>, image: ArrayViewMut2<'_, f32>) -> Result<()> {
        if self.meta.demod_hz().is_some() {
            return Err(Error::invalid("data", "IQ samples for an IQ plan", "RF samples"));
        }
        self.check_shapes(data.dim(), image.dim())?;
        let per_tx = self.channels.len() * self.meta.n_samples();
        with_contiguous(data, |slice| {
            self.run(image, &|at, out: &mut [f32]| {
                self.tile_pass(
                    at,
                    |t, k0, nk, s, sc| {
                        let d = &slice[k0 * per_tx..][..nk * per_tx];
                        kernels::rf(self.kernel, self.coherence, &self.params, t, d, s, sc)
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
        check_fits(&self.meta, data.meta())?;
        self.beamform_iq_raw_into(data.data().view(), image)
    }

    /// Beamforms raw IQ samples `[tx, channel, sample]` into `image`.
    pub fn beamform_iq_raw_into(
        &self,
        data: ArrayView3<'_, Complex32>,
        image: ArrayViewMut2<'_, Complex32>,
    ) -> Result<()> {
        if self.meta.demod_hz().is_none() {
            return Err(Error::invalid("data", "RF samples for an RF plan", "IQ samples"));
        }
        self.check_shapes(data.dim(), image.dim())?;
        let per_tx = self.channels.len() * self.meta.n_samples();
        with_contiguous(data, |slice| {
            self.run(image, &|at, out: &mut [Complex32]| {
                self.tile_pass(
                    at,
                    |t, k0, nk, s, sc| {
                        let d = &slice[k0 * per_tx..][..nk * per_tx];
                        kernels::iq(self.kernel, self.coherence, &self.params, t, d, s, sc)
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

    /// Runs `f(tile, out)` on the plan's tiles (`out[j · tile_depths + i]` is line
    /// `tile.line0 + j`, depth `tile.k0 + i`), in parallel (rayon `join`, no allocation), each tile
    /// computed by exactly one task.
    fn run<T: Copy + Send + Sync + Default>(&self, image: ArrayViewMut2<'_, T>, f: &TileFn<'_, T>) {
        split(image, 0, 0, (self.tile_lines, self.tile_depths), f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Beamformer>();
        check::<crate::demod::Demodulator>();
    }
}
