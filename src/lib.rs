//! # sonochip
//!
//! The signal-processing core of a handheld "ultrasound-on-chip" scanner: one 2D CMUT array of
//! about 9,000 elements (1–10 MHz) that emulates linear, curved and phased probes. The crate
//! simulates that probe (RF channel data from phantoms), beamforms it (delay-and-sum, SIMD + rayon),
//! detects the envelope, applies gain, TGC and dynamic range, scan-converts, and emits B-mode frames.
//!
//! ```text
//! Preset ─► Acquisition (aperture, sequence, pulse, sampling, grid, c)
//!              │
//! Phantom ─────┼─► sim ─► ChannelData [tx, channel, sample] + Metadata
//! Medium ──────┘                │
//!                               ▼
//!        (demod ─► IQ) ─► beamform (Grid) ─► envelope ─► bmode (gain, TGC, DR) ─► scan_convert ─► BModeFrame
//!        └───────────────────────── Imager: one plan per stage, live controls ──────────────────────────┘
//! ```
//!
//! ## Quick start
//!
//! A phantom of your own, imaged live with an edited preset, written as a PNG:
//!
//! ```
//! use sonochip::prelude::*;
//! # fn main() -> sonochip::Result<()> {
//! // The vascular preset with 9 plane waves and a Tukey window.
//! let mut preset = Preset::get(PresetKind::Vascular);
//! preset.n_tx = 9;
//! preset.window = Window::Tukey { alpha: 0.5 };
//! let mut imager = Imager::new(preset)?;
//!
//! // Two wires and an anechoic cyst in speckle (positions in metres, x lateral, z depth).
//! let speckle = SpeckleBuilder::new((-0.01, 0.01), (0.01, 0.03), 20.0)?
//!     .feature(Feature::disk([0.004, 0.02], 0.003, 0.0))
//!     .point([-0.005, 0.0, 0.015], 30.0)
//!     .point([-0.005, 0.0, 0.025], 30.0)
//!     .build(7)?;
//! let rf = imager.simulate(&speckle, Medium::soft_tissue())?;
//!
//! imager.set_gain_control(55.0)?;
//! let frame = imager.process(&rf)?;
//! let path = std::env::temp_dir().join("sonochip-quick-start/frame.png");
//! frame.save_png_with_depth_scale(&path)?; // missing folders are created
//! # std::fs::remove_dir_all(path.parent().unwrap()).ok();
//! # Ok(()) }
//! ```
//!
//! The live controls re-map without beamforming again ([`Imager::set_gain_control`],
//! [`Imager::set_dynamic_range_db`], [`Imager::set_tgc`], [`Imager::remap`]); depth and preset
//! changes re-plan ([`Imager::set_depth`], [`Imager::set_preset`]). Researchers use the stages on
//! their own: [`Simulator`](sim::Simulator), [`Demodulator`](demod::Demodulator),
//! [`Beamformer`](beamform::Beamformer) (planned from the [`Metadata`](channel_data::Metadata) of the
//! data), [`EnvelopeDetector`](envelope::EnvelopeDetector), [`BModeMapper`](bmode::BModeMapper),
//! [`ScanConverter`](scan_convert::ScanConverter), and [`metrics`].
//!
//! [`Imager::set_gain_control`]: imager::Imager::set_gain_control
//! [`Imager::set_dynamic_range_db`]: imager::Imager::set_dynamic_range_db
//! [`Imager::set_tgc`]: imager::Imager::set_tgc
//! [`Imager::remap`]: imager::Imager::remap
//! [`Imager::set_depth`]: imager::Imager::set_depth
//! [`Imager::set_preset`]: imager::Imager::set_preset
//!
//! ## Modules, in the order of the data path
//!
//! Each module uses only those above it in this list.
//!
//! | module | what it holds |
//! |---|---|
//! | [`error`] | [`Error`], its [`ErrorKind`]s and the memory cap |
//! | [`probe`], [`medium`], [`pulse`] | element geometry and apertures; speed of sound and attenuation (homogeneous, or a map of the tissues); the pulse |
//! | [`sequence`] | transmit events and the one arrival-time model (time zero) of simulator and beamformer |
//! | [`grid`] | pixel grids: Cartesian, polar (sector, curved), explicit axes, point lists |
//! | [`channel_data`] | [`Sampling`](channel_data::Sampling), [`Metadata`](channel_data::Metadata), RF/IQ [`ChannelData`](channel_data::ChannelData), `.npy` + JSON files |
//! | [`acquisition`] | [`Acquisition`](acquisition::Acquisition): what is set up once before scanning |
//! | [`phantom`], [`sim`] | scatterers (speckle, specular interfaces, the presets' anatomy with its attenuation map); the RF simulator |
//! | [`demod`], [`beamform`], [`envelope`], [`bmode`], [`frame`], [`scan_convert`] | the processing stages, each a plan made once and run on every frame |
//! | [`doppler`] | slow time: clutter filters, velocity estimators, spectral Doppler, colour flow |
//! | [`metrics`] | image-quality metrics (FWHM, CR, CNR, gCNR, speckle statistics) |
//! | [`preset`], [`imager`] | clinical presets and the live pipeline |
//! | `dicom` (feature `dicom`) | DICOM export (Ultrasound (Multi-frame) Image Storage, grey and RGB, with the ultrasound regions' geometry), de-identification, and networking (C-ECHO, C-STORE, Modality Worklist C-FIND over TCP or TLS) |
//! | [`validation`], [`workload`] | the validation report and the named benchmark workloads |
//!
//! The design record (architecture, decisions, layering) is `docs/design.md`, the physics the tests
//! rely on `docs/physics.md`, the benchmark workloads `docs/workloads.md`, and the measurement
//! history `docs/performance.md`, all in the repository.
//!
//! ## Conventions
//!
//! * **Axes and units.** x lateral (azimuth), y elevation, z depth into the body (z > 0), in metres,
//!   origin at the centre of the probe face. Angles are radians in the API (from +z, positive towards
//!   +x); degrees appear only in presets and printed text. Units are part of every name (`fs_hz`,
//!   `depth_m`).
//! * **Time zero.** Defined once, in [`sequence`]: `t = 0` is the instant at which the first-firing
//!   transmit channel emits the *centre* (envelope peak) of its pulse. Column channels are referenced
//!   to their elevation-lens centre, so elevation focusing delays are relative advances that do not
//!   move `t = 0`. The simulator and the beamformer both use [`sequence::TxEvent::arrival_time_s`]
//!   and [`sequence::travel_time_s`]; `t0_s` of a [`Sampling`](channel_data::Sampling) is the time of
//!   sample 0.
//! * **Arrays.** `ndarray` (re-exported as [`ndarray`]), C order. RF is `[tx, channel, sample]` (one
//!   trace contiguous), data `f32`, geometry `f64`. Images are `[line, depth]` (one line contiguous
//!   along depth).
//! * **dB.** `20·log10` of an envelope amplitude; each function documents its 0 dB reference.
//!
//! ## Errors and limits
//!
//! Every constructor validates its input and returns [`Error`], naming the parameter, what was
//! expected and what came; values whose unit is easily mistaken (metres, hertz) are checked against
//! a plausible range that the message states with the unit. Sizes are checked against a memory cap
//! ([`DEFAULT_MEMORY_CAP_BYTES`] unless configured) before anything large is allocated. Files and
//! deserialised values are validated like constructor arguments.

#![warn(missing_docs, missing_debug_implementations)]

pub mod acquisition;
pub mod beamform;
pub mod bmode;
pub mod channel_data;
pub mod demod;
#[cfg(feature = "dicom")]
pub mod dicom;
pub mod doppler;
pub mod envelope;
pub mod error;
pub mod frame;
pub mod grid;
pub mod imager;
pub mod medium;
pub mod metrics;
pub mod phantom;
pub mod preset;
pub mod probe;
pub mod pulse;
pub mod scan_convert;
pub mod sequence;
pub mod sim;
pub mod simd;
pub mod validation;
pub mod workload;

pub use error::{DEFAULT_MEMORY_CAP_BYTES, Error, ErrorKind, NetworkReason, Result, TlsFailure};
pub use ndarray;
pub use num_complex;

/// What an app or a study usually needs, in one import: `use sonochip::prelude::*;`.
pub mod prelude {
    pub use crate::acquisition::Acquisition;
    pub use crate::beamform::{BeamformConfig, Beamformer, Interpolation, KernelChoice, Window};
    pub use crate::bmode::{BModeMapper, DbReference, Tgc};
    pub use crate::channel_data::{ChannelData, Metadata, Sampling};
    pub use crate::demod::{DemodConfig, Demodulator};
    pub use crate::envelope::EnvelopeDetector;
    pub use crate::error::{Error, ErrorKind, Result};
    pub use crate::frame::BModeFrame;
    pub use crate::grid::Grid;
    pub use crate::imager::Imager;
    pub use crate::medium::{AttenuationMap, AttenuationRegion, Medium};
    pub use crate::phantom::{Anatomy, Feature, Phantom, SpeckleBuilder};
    pub use crate::preset::{GridDensity, Preset, PresetKind};
    pub use crate::probe::{Aperture, ChannelMode, Probe};
    pub use crate::pulse::Pulse;
    pub use crate::scan_convert::{RasterSpec, ScanConverter};
    pub use crate::sequence::{Sequence, TxEvent, TxKind};
    pub use crate::sim::Propagation;
    pub use crate::sim::{SimOptions, Simulator};
    pub use ndarray::{Array2, Array3, ArrayView2, ArrayView3, s};
    pub use num_complex::Complex32;
}
