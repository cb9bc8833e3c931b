//! Slow-time ensembles: a transmit sequence fired again and again on a moving phantom.
//!
//! An [`Ensemble`] holds `n` frames of channel data with one [`Metadata`], frame `k` being the
//! whole sequence fired once; its slow-time axis is the frame index. [`Simulator::run_ensemble`]
//! simulates one from a [`MovingPhantom`]: transmit events follow each other at the pulse
//! repetition frequency `prf_hz`, and each event sees the phantom at its own firing time
//! `t = (k·n_tx + j) / prf_hz` (frame `k`, event `j`), so motion during a compounded sequence is
//! simulated rather than ignored. The slow-time sampling rate of the frames is `prf_hz / n_tx`.
//! With thermal noise on, each event draws its own noise (its seed mixes the options' seed with
//! the frame and the event), so noise is not mistaken for stationary clutter.

use super::Simulator;
use crate::channel_data::{ChannelData, Metadata};
use crate::error::{Error, Result, check_size, plausible};
use crate::phantom::motion::MovingPhantom;
use crate::sequence::Sequence;
use ndarray::{Array3, s};

/// Most frames an ensemble may hold.
pub const MAX_FRAMES: usize = 4096;

/// Frames of channel data on a slow-time axis (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct Ensemble {
    prf_hz: f64,
    frames: Vec<ChannelData<f32>>,
}

impl Ensemble {
    /// An ensemble from `frames` fired with transmit events at `prf_hz` (1 Hz–1 MHz). Errors:
    /// no frames or more than [`MAX_FRAMES`], or frames whose metadata differ (`frames`).
    pub fn new(prf_hz: f64, frames: Vec<ChannelData<f32>>) -> Result<Ensemble> {
        plausible("prf_hz", prf_hz, 1.0, 1e6, "Hz")?;
        if frames.is_empty() || frames.len() > MAX_FRAMES {
            return Err(Error::invalid(
                "frames",
                format!("1..={MAX_FRAMES} frames"),
                frames.len(),
            ));
        }
        if frames.iter().any(|f| f.meta() != frames[0].meta()) {
            return Err(Error::invalid(
                "frames",
                "frames with the same metadata",
                "frames that differ",
            ));
        }
        Ok(Ensemble { prf_hz, frames })
    }

    /// Transmit events per second.
    pub fn prf_hz(&self) -> f64 {
        self.prf_hz
    }

    /// Frames per second: the slow-time sampling rate, `prf_hz / n_tx`.
    pub fn slow_time_rate_hz(&self) -> f64 {
        self.prf_hz / self.metadata().sequence().len() as f64
    }

    /// The frames, in firing order.
    pub fn frames(&self) -> &[ChannelData<f32>] {
        &self.frames
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Always false (an ensemble holds at least one frame).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// What every frame holds.
    pub fn metadata(&self) -> &Metadata {
        self.frames[0].meta()
    }
}

impl Simulator {
    /// Simulates `n_frames` firings of the sequence on `phantom`, events at `prf_hz` (see the
    /// [module docs](self)). The result is the same for any number of rayon threads.
    ///
    /// Errors: `prf_hz` outside 1 Hz–1 MHz, `n_frames` outside 1..=[`MAX_FRAMES`],
    /// [`Error::TooLarge`] when the frames together exceed the options' memory cap (checked before
    /// simulating), and those of [`Simulator::run`] and `MovingPhantom::at`.
    ///
    /// Cost: one [`Simulator::run`] per event and frame, each on one transmit (the pulse table is
    /// rebuilt per event), and the frames' RF.
    pub fn run_ensemble(&self, phantom: &MovingPhantom, prf_hz: f64, n_frames: usize) -> Result<Ensemble> {
        self.run_frames(phantom, prf_hz, 0, n_frames)
    }

    /// Frames `first..first + n_frames` of an endless firing sequence at `prf_hz` (frame `k`'s
    /// events fire from `t = k·n_tx / prf_hz`): a long acquisition simulated and processed in
    /// pieces, as a scanner streams it. Errors as [`Simulator::run_ensemble`], and `first`
    /// beyond 2³² frames.
    pub fn run_frames(&self, phantom: &MovingPhantom, prf_hz: f64, first: usize, n_frames: usize) -> Result<Ensemble> {
        if first > u32::MAX as usize {
            return Err(Error::invalid("first", "a frame index below 2^32", first));
        }
        plausible("prf_hz", prf_hz, 1.0, 1e6, "Hz")?;
        if !(1..=MAX_FRAMES).contains(&n_frames) {
            return Err(Error::invalid("n_frames", format!("1..={MAX_FRAMES} frames"), n_frames));
        }
        check_size(
            "ensemble",
            self.output_bytes() * n_frames as u128,
            self.options.memory_cap_bytes,
        )?;
        let events = self.sequence.events();
        let n_tx = events.len();
        // One single-event simulator per event, built once.
        let singles = events
            .iter()
            .map(|ev| {
                Ok(Simulator {
                    sequence: Sequence::from_events(vec![ev.clone()])?,
                    ..self.clone()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let meta = Metadata::for_aperture(self.sampling, self.pulse.fc_hz(), self.sequence.clone(), &self.rx)?;
        let (n_ch, n_s) = (self.rx.n_channels(), self.sampling.n_samples());
        let mut frames = Vec::with_capacity(n_frames);
        for k in first..first + n_frames {
            let mut rf = Array3::<f32>::zeros((n_tx, n_ch, n_s));
            for (j, single) in singles.iter().enumerate() {
                let t = (k * n_tx + j) as f64 / prf_hz;
                let mut sim = single.clone();
                sim.options.noise_seed =
                    self.options.noise_seed ^ ((k * n_tx + j) as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
                let one = sim.run(&phantom.at(t)?)?;
                rf.slice_mut(s![j, .., ..]).assign(&one.data().slice(s![0, .., ..]));
            }
            frames.push(ChannelData::new(rf, meta.clone())?);
        }
        Ensemble::new(prf_hz, frames)
    }
}
