//! Channel data: RF (or IQ) samples `[tx, channel, sample]` with everything needed to beamform them.
//!
//! [`ChannelData<f32>`] holds RF; [`ChannelData<Complex32>`] holds baseband IQ (after
//! [demodulation](crate), with `demod_hz` set). [`ChannelData::save`] writes a folder that numpy users
//! read directly:
//!
//! * `data.npy` — the samples, `float32` (RF) or `complex64` (IQ), shape `[tx, channel, sample]`;
//! * `channel_positions.npy` — `float64 [channel, 3]`, metres;
//! * `tx_delays.npy` — `float64 [tx, channel]`, seconds (the sequence's firing delays);
//! * `meta.json` — `fs_hz`, `t0_s`, `fc_hz`, `c_m_s`, `demod_hz` and the whole sequence.
//!
//! ```no_run
//! # fn main() -> sonochip::Result<()> {
//! use sonochip::channel_data::ChannelData;
//! let data: ChannelData<f32> = ChannelData::load("out/scan/vascular")?;
//! println!("{} transmits x {} channels x {} samples", data.n_tx(), data.n_channels(), data.n_samples());
//! # Ok(()) }
//! ```
//! ```python
//! import numpy as np, json
//! rf = np.load("out/scan/vascular/data.npy"); meta = json.load(open("out/scan/vascular/meta.json"))
//! ```

use crate::error::{Error, Result, finite, positive};
use crate::sequence::Sequence;
use ndarray::{Array2, Array3};
use ndarray_npy::{ReadNpyExt, ReadableElement, WritableElement, WriteNpyExt};
use num_complex::Complex32;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

/// Sample types a [`ChannelData`] can hold: `f32` (RF) and `Complex32` (IQ).
pub trait Sample: Copy + Default + Send + Sync + 'static + WritableElement + ReadableElement + private::Sealed {
    /// True for complex (IQ) samples.
    const IS_IQ: bool;
}
impl Sample for f32 {
    const IS_IQ: bool = false;
}
impl Sample for Complex32 {
    const IS_IQ: bool = true;
}
mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for num_complex::Complex32 {}
}

/// Acquisition metadata that travels with the samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Sampling rate of `data`, Hz.
    pub fs_hz: f64,
    /// Time of sample 0, seconds (time zero as defined in [`crate::sequence`]).
    pub t0_s: f64,
    /// Centre frequency of the pulse, Hz.
    pub fc_hz: f64,
    /// Speed of sound assumed by the sequence, m/s.
    pub c_m_s: f64,
    /// Demodulation frequency for IQ data (`None` for RF).
    pub demod_hz: Option<f64>,
    /// Reference position of each receive channel, metres.
    pub channel_positions_m: Vec<[f64; 3]>,
    /// The transmit sequence (one event per `tx` index).
    pub sequence: Sequence,
}

/// Samples plus metadata. See the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelData<S: Sample = f32> {
    data: Array3<S>,
    meta: Metadata,
}

impl<S: Sample> ChannelData<S> {
    /// Wraps samples `[tx, channel, sample]` with their metadata, checking that they fit together.
    pub fn new(data: Array3<S>, meta: Metadata) -> Result<Self> {
        let (nt, nc, ns) = data.dim();
        if nt != meta.sequence.len() {
            return Err(Error::shape(
                "data",
                format!("{} transmits (the sequence's length)", meta.sequence.len()),
                format!("{nt}"),
            ));
        }
        if nc != meta.channel_positions_m.len() {
            return Err(Error::shape(
                "data",
                format!("{} channels", meta.channel_positions_m.len()),
                format!("{nc}"),
            ));
        }
        if ns == 0 {
            return Err(Error::empty("data", "at least one sample per trace"));
        }
        positive("fs_hz", meta.fs_hz)?;
        finite("t0_s", meta.t0_s)?;
        positive("fc_hz", meta.fc_hz)?;
        positive("c_m_s", meta.c_m_s)?;
        match (S::IS_IQ, meta.demod_hz) {
            (true, Some(f)) => {
                finite("demod_hz", f)?;
            }
            (false, None) => {}
            (true, None) => return Err(Error::invalid("demod_hz", "Some(frequency) for IQ data", "None")),
            (false, Some(f)) => return Err(Error::invalid("demod_hz", "None for RF data", f)),
        }
        let data = if data.is_standard_layout() {
            data
        } else {
            data.as_standard_layout().to_owned()
        };
        Ok(ChannelData { data, meta })
    }

    /// The samples `[tx, channel, sample]` (C order).
    pub fn data(&self) -> &Array3<S> {
        &self.data
    }
    /// Mutable samples (shape fixed).
    pub fn data_mut(&mut self) -> ndarray::ArrayViewMut3<'_, S> {
        self.data.view_mut()
    }
    /// The metadata.
    pub fn meta(&self) -> &Metadata {
        &self.meta
    }
    /// Number of transmits.
    pub fn n_tx(&self) -> usize {
        self.data.dim().0
    }
    /// Number of receive channels.
    pub fn n_channels(&self) -> usize {
        self.data.dim().1
    }
    /// Samples per trace.
    pub fn n_samples(&self) -> usize {
        self.data.dim().2
    }
    /// Sampling rate, Hz.
    pub fn fs_hz(&self) -> f64 {
        self.meta.fs_hz
    }
    /// Time of sample 0, seconds.
    pub fn t0_s(&self) -> f64 {
        self.meta.t0_s
    }
    /// The sequence.
    pub fn sequence(&self) -> &Sequence {
        &self.meta.sequence
    }
    /// Splits into samples and metadata.
    pub fn into_parts(self) -> (Array3<S>, Metadata) {
        (self.data, self.meta)
    }

    /// Writes the folder described in the [module docs](self) (created if missing).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let io = |p: &Path, e: &dyn std::fmt::Display| Error::Io {
            path: p.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
        let write = |name: &str, f: &dyn Fn(BufWriter<File>) -> std::result::Result<(), String>| -> Result<()> {
            let p = dir.join(name);
            let file = File::create(&p).map_err(|e| io(&p, &e))?;
            f(BufWriter::new(file)).map_err(|e| io(&p, &e))
        };
        write("data.npy", &|w| self.data.write_npy(w).map_err(|e| e.to_string()))?;
        let pos = Array2::from_shape_fn((self.n_channels(), 3), |(c, k)| self.meta.channel_positions_m[c][k]);
        write("channel_positions.npy", &|w| {
            pos.write_npy(w).map_err(|e| e.to_string())
        })?;
        let seq = &self.meta.sequence;
        let n_tx_ch = seq.events()[0].delays_s().len();
        let delays = Array2::from_shape_fn((seq.len(), n_tx_ch), |(t, c)| {
            seq.events()[t].delays_s().get(c).copied().unwrap_or(f64::NAN)
        });
        write("tx_delays.npy", &|w| delays.write_npy(w).map_err(|e| e.to_string()))?;
        write("meta.json", &|w| {
            serde_json::to_writer_pretty(w, &self.meta).map_err(|e| e.to_string())
        })
    }

    /// Reads a folder written by [`ChannelData::save`].
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let open = |name: &str| -> Result<BufReader<File>> {
            let p = dir.join(name);
            File::open(&p).map(BufReader::new).map_err(|e| Error::Io {
                path: p.display().to_string(),
                message: e.to_string(),
            })
        };
        let fmt = |name: &str, e: &dyn std::fmt::Display| Error::Format {
            path: dir.join(name).display().to_string(),
            message: e.to_string(),
        };
        let meta: Metadata = serde_json::from_reader(open("meta.json")?).map_err(|e| fmt("meta.json", &e))?;
        let data = Array3::<S>::read_npy(open("data.npy")?).map_err(|e| fmt("data.npy", &e))?;
        ChannelData::new(data, meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Aperture, Probe};

    fn meta(n_ch: usize, seq: Sequence) -> Metadata {
        Metadata {
            fs_hz: 20e6,
            t0_s: 1e-6,
            fc_hz: 5e6,
            c_m_s: 1540.0,
            demod_hz: None,
            channel_positions_m: (0..n_ch).map(|i| [i as f64 * 3e-4, 0.0, 0.0]).collect(),
            sequence: seq,
        }
    }

    #[test]
    fn save_load_round_trip() {
        let probe = Probe::linear(4, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
        let ap = Aperture::full(&probe, None).unwrap();
        let seq = Sequence::plane_waves(&ap, &[0.0, 0.1], 1540.0).unwrap();
        let data = Array3::from_shape_fn((2, 4, 16), |(a, b, c)| (a * 100 + b * 10 + c) as f32);
        let cd = ChannelData::new(data, meta(4, seq)).unwrap();
        let dir = std::env::temp_dir().join(format!("sonochip-cd-{}", std::process::id()));
        cd.save(&dir).unwrap();
        let back: ChannelData<f32> = ChannelData::load(&dir).unwrap();
        assert_eq!(back, cd);
        assert!(matches!(
            ChannelData::<f32>::load(dir.join("missing")),
            Err(Error::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn shape_errors() {
        let probe = Probe::linear(4, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
        let ap = Aperture::full(&probe, None).unwrap();
        let seq = Sequence::plane_waves(&ap, &[0.0], 1540.0).unwrap();
        assert!(ChannelData::new(Array3::<f32>::zeros((2, 4, 8)), meta(4, seq.clone())).is_err());
        assert!(ChannelData::new(Array3::<f32>::zeros((1, 3, 8)), meta(4, seq.clone())).is_err());
        assert!(ChannelData::new(Array3::<Complex32>::zeros((1, 4, 8)), meta(4, seq)).is_err());
    }
}
