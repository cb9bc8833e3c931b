//! Motion and flow over slow time: clutter filters, mean-velocity estimators, spectral Doppler,
//! M-mode and the colour display, and their live pipelines (`live`: colour flow;
//! `live_spectral`: the streaming sonogram; `live_mmode`: the M-mode sweep).
//!
//! **Ensembles.** An ensemble is the same transmit sequence fired `n` times at a pulse repetition
//! frequency; beamformed frame by frame with one plan it is a stack of complex images,
//! `[slow_time, lines, depths]` (`ArrayView3<Complex32>`), each image brought to baseband along its
//! lines (`scan_convert::Baseband` or `scan_convert::remove_carrier` at the demodulation
//! frequency). The slow-time sampling rate is the rate of whole sequences (for compounded plane
//! waves, the compounded frame rate).
//!
//! **Sign.** A scatterer moving toward the probe shortens its round trip on every firing, so its
//! slow-time phase advances: a positive lag-one phase is a positive velocity, toward the probe
//! (shown red), and a negative one is away from it (blue).

pub mod clutter;
pub mod color;
mod eigen;
pub mod estimate;
pub mod live;
pub mod live_mmode;
pub mod live_spectral;
pub mod mmode;
pub mod pipeline;
pub mod spectral;
