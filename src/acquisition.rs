//! The acquisition: everything set up once before scanning, shared by the simulator, the
//! beamformer and the live `Imager`.
//!
//! An [`Acquisition`] is the active [`Aperture`] (which elements form which channels), the transmit
//! [`Sequence`], the [`Pulse`], the receive [`Sampling`], the image [`Grid`] and the speed of sound
//! the beamformer assumes. Clinical presets build one (`Preset::acquisition`);
//! `Simulator::new` simulates its channel data, [`Acquisition::metadata`] describes
//! that data, and beamformers are planned from that description. A slow-time ensemble (Doppler) is
//! an acquisition repeated at a pulse repetition frequency.
//!
//! ```
//! # fn main() -> sonochip::Result<()> {
//! use sonochip::prelude::*;
//!
//! let probe = Probe::linear(64, 3e-4, 2.7e-4, 5e-3, 1)?;
//! let aperture = Aperture::full(&probe, None)?;
//! let sequence = Sequence::plane_wave_fan(&aperture, 10f64.to_radians(), 3, 1540.0)?;
//! let pulse = Pulse::new(5e6, 0.8, 1.0)?;
//! let grid = Grid::cartesian((-0.009, 0.009), 96, (0.005, 0.03), 200)?;
//! let acq = Acquisition::for_depth(aperture, sequence, pulse, 20e6, grid, 0.03)?;
//! assert_eq!(acq.points_per_frame(), 96 * 200 * 64 * 3);
//! assert_eq!(acq.metadata()?.data_shape(), (3, 64, acq.sampling().n_samples()));
//! # Ok(()) }
//! ```

use crate::channel_data::{Metadata, Sampling};
use crate::error::{Error, Result, in_range};
use crate::grid::Grid;
use crate::probe::Aperture;
use crate::pulse::Pulse;
use crate::sequence::Sequence;

/// Speeds of sound a beamformer may assume, m/s.
pub const SOUND_SPEED_RANGE_M_S: (f64, f64) = (300.0, 5000.0);

/// What a scanner sets up once. See the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct Acquisition {
    aperture: Aperture,
    sequence: Sequence,
    pulse: Pulse,
    sampling: Sampling,
    grid: Grid,
    sound_speed_m_s: f64,
}

impl Acquisition {
    /// Bundles the parts, checking that they fit together: the sequence drives the aperture's
    /// channels and the sampling rate represents the pulse band. The beamformer assumes the
    /// sequence's speed of sound ([`Acquisition::with_sound_speed`] changes it).
    pub fn new(aperture: Aperture, sequence: Sequence, pulse: Pulse, sampling: Sampling, grid: Grid) -> Result<Self> {
        if sequence.n_channels() != aperture.n_channels() {
            return Err(Error::shape(
                "sequence",
                format!("{} channels per event (the aperture's)", aperture.n_channels()),
                sequence.n_channels().to_string(),
            ));
        }
        pulse.check_sampling(sampling.fs_hz())?;
        let sound_speed_m_s = sequence.c_m_s();
        Ok(Acquisition {
            aperture,
            sequence,
            pulse,
            sampling,
            grid,
            sound_speed_m_s,
        })
    }

    /// As [`Acquisition::new`], with a receive sampling at `fs_hz` from `t0 = 0` long enough for
    /// echoes from `depth_max_m` ([`Sampling::for_depth`]).
    pub fn for_depth(
        aperture: Aperture,
        sequence: Sequence,
        pulse: Pulse,
        fs_hz: f64,
        grid: Grid,
        depth_max_m: f64,
    ) -> Result<Self> {
        let sampling = Sampling::for_depth(fs_hz, depth_max_m, &sequence, &pulse)?;
        Acquisition::new(aperture, sequence, pulse, sampling, grid)
    }

    /// The speed of sound the beamformer assumes, m/s (within [`SOUND_SPEED_RANGE_M_S`]); the
    /// sequence's delays are unchanged.
    pub fn with_sound_speed(mut self, c_m_s: f64) -> Result<Self> {
        self.sound_speed_m_s = in_range(
            "sound_speed_m_s",
            c_m_s,
            SOUND_SPEED_RANGE_M_S.0,
            SOUND_SPEED_RANGE_M_S.1,
        )?;
        Ok(self)
    }

    /// The same acquisition imaged on another grid.
    pub fn with_grid(mut self, grid: Grid) -> Self {
        self.grid = grid;
        self
    }

    /// The active aperture (transmit and receive channels).
    pub fn aperture(&self) -> &Aperture {
        &self.aperture
    }
    /// The transmit events of one frame.
    pub fn sequence(&self) -> &Sequence {
        &self.sequence
    }
    /// The pulse.
    pub fn pulse(&self) -> Pulse {
        self.pulse
    }
    /// The receive sampling.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }
    /// The image grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }
    /// The speed of sound the beamformer assumes, m/s.
    pub fn sound_speed_m_s(&self) -> f64 {
        self.sound_speed_m_s
    }

    /// The description of the RF channel data this acquisition records (received on the aperture's
    /// channels).
    pub fn metadata(&self) -> Result<Metadata> {
        Metadata::for_aperture(self.sampling, self.pulse.fc_hz(), self.sequence.clone(), &self.aperture)
    }

    /// Pixels × receive channels × transmits of one frame.
    pub fn points_per_frame(&self) -> usize {
        self.grid.n_pixels() * self.aperture.n_channels() * self.sequence.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Probe;

    #[test]
    fn parts_must_fit() {
        let probe = Probe::linear(16, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
        let ap = Aperture::full(&probe, None).unwrap();
        let other = Aperture::columns(&probe, 0..8, crate::probe::ChannelMode::Elements).unwrap();
        let seq = Sequence::plane_waves(&other, &[0.0], 1540.0).unwrap();
        let pulse = Pulse::new(5e6, 0.8, 1.0).unwrap();
        let grid = Grid::cartesian((-0.002, 0.002), 4, (0.005, 0.01), 8).unwrap();
        let s = Sampling::new(20e6, 0.0, 400).unwrap();
        let e = Acquisition::new(ap.clone(), seq, pulse, s, grid.clone()).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { name: "sequence", .. }), "{e}");
        let seq = Sequence::plane_waves(&ap, &[0.0], 1540.0).unwrap();
        let slow = Sampling::new(8e6, 0.0, 400).unwrap();
        assert!(matches!(
            Acquisition::new(ap.clone(), seq.clone(), pulse, slow, grid.clone()),
            Err(Error::BelowNyquist { .. })
        ));
        let a = Acquisition::new(ap, seq, pulse, s, grid).unwrap();
        assert_eq!(a.sound_speed_m_s(), 1540.0);
        assert!(a.clone().with_sound_speed(f64::NAN).is_err());
        assert_eq!(a.with_sound_speed(1580.0).unwrap().sound_speed_m_s(), 1580.0);
    }
}
