//! # sonochip
//!
//! The signal-processing core of a handheld "ultrasound-on-chip" scanner: one 2D CMUT array of
//! about 9,000 elements (1–10 MHz) that emulates linear, curved and phased probes. The crate
//! simulates that probe (RF channel data from phantoms), beamforms it (delay-and-sum, SIMD + rayon),
//! detects the envelope, applies gain, TGC and dynamic range, scan-converts, and emits B-mode frames.
//!
//! ```text
//! Phantom + Medium + Probe/Aperture + Sequence ─► sim ─► ChannelData [tx, channel, sample]
//!     ─► (demod ─► IQ) ─► beamform (Grid) ─► envelope ─► bmode (gain, TGC, DR) ─► scan_convert ─► BModeFrame
//! ```
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
//!   and [`sequence::travel_time_s`]; `t0_s` in [`channel_data::ChannelData`] is the time of sample 0.
//! * **Arrays.** `ndarray`, C order. RF is `[tx, channel, sample]` (one trace contiguous), data `f32`,
//!   geometry `f64`. Images are `[line, depth]` (one line contiguous along depth).
//! * **dB.** `20·log10` of an envelope amplitude; each function documents its 0 dB reference.
//!
//! ## Errors
//!
//! Every constructor validates its input and returns [`Error`], naming the parameter, what was
//! expected and what came; sizes are checked against a memory cap before anything large is allocated.

#![warn(missing_docs)]

pub mod acquisition;
pub mod beamform;
pub mod bmode;
pub mod channel_data;
pub mod demod;
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
pub mod validation;
pub mod workload;

pub use error::{DEFAULT_MEMORY_CAP_BYTES, Error, ErrorKind, Result};
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
    pub use crate::medium::Medium;
    pub use crate::phantom::{Feature, Phantom, SpeckleBuilder};
    pub use crate::preset::{Preset, PresetKind};
    pub use crate::probe::{Aperture, ChannelMode, Probe};
    pub use crate::pulse::Pulse;
    pub use crate::scan_convert::{RasterSpec, ScanConverter};
    pub use crate::sequence::{Sequence, TxEvent, TxKind};
    pub use crate::sim::{SimOptions, Simulator};
    pub use ndarray::{Array2, Array3, ArrayView2, ArrayView3, s};
    pub use num_complex::Complex32;
}
