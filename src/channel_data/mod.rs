//! Channel data: RF (or IQ) samples `[tx, channel, sample]` with everything needed to beamform them.
//!
//! * [`Sampling`] is the time axis of a record: rate, time of the first sample, samples per trace.
//! * [`Metadata`] describes a whole record: its sampling, the pulse's centre frequency, the speed of
//!   sound of the sequence, the demodulation frequency (IQ data), the receive channels (positions and
//!   normals) and the transmit sequence. A beamformer is planned from a `Metadata` alone, before any
//!   data exists (`Beamformer::new` in the `beamform` module).
//! * [`ChannelData<f32>`] holds RF; [`ChannelData<Complex32>`] holds baseband IQ (after
//!   demodulation, with `demod_hz` set).
//!
//! [`ChannelData::save`] writes a folder that numpy users read directly:
//!
//! * `data.npy` — the samples, `float32` (RF) or `complex64` (IQ), shape `[tx, channel, sample]`;
//! * `channel_positions.npy` — `float64 [channel, 3]`, metres;
//! * `tx_delays.npy` — `float64 [tx, channel]`, seconds (the sequence's firing delays);
//! * `meta.json` — the [`Metadata`]: `fs_hz`, `t0_s`, `n_samples`, `fc_hz`, `c_m_s`, `demod_hz`, the
//!   channels and the whole sequence.
//!
//! ```
//! # fn main() -> sonochip::Result<()> {
//! use sonochip::prelude::*;
//!
//! let probe = Probe::linear(8, 3e-4, 2.7e-4, 5e-3, 1)?;
//! let aperture = Aperture::full(&probe, None)?;
//! let sequence = Sequence::plane_waves(&aperture, &[0.0], 1540.0)?;
//! let meta = Metadata::for_aperture(Sampling::new(20e6, 0.0, 256)?, 5e6, sequence, &aperture)?;
//! let data = ChannelData::new(Array3::<f32>::zeros((1, 8, 256)), meta)?;
//!
//! let dir = std::env::temp_dir().join(format!("sonochip-doc-{}", std::process::id()));
//! data.save(&dir)?;
//! let back: ChannelData<f32> = ChannelData::load(&dir)?;
//! assert_eq!(back, data);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(()) }
//! ```
//! ```python
//! import numpy as np, json
//! rf = np.load("folder/data.npy"); meta = json.load(open("folder/meta.json"))
//! ```

use crate::error::{Error, Result, check_size, in_range, plausible};
use crate::probe::{Aperture, unit_vector};
use crate::pulse::Pulse;
use crate::sequence::Sequence;
use ndarray::{Array2, Array3};
use ndarray_npy::{ReadableElement, WritableElement, WriteNpyExt};
use num_complex::Complex32;
use serde::{Deserialize, Serialize};

mod files;
pub use files::{MAX_META_JSON_BYTES, MAX_NPY_HEADER_BYTES};
use files::{read_meta, read_npy};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

/// Most samples per trace (about 1.3 ms at 100 MHz).
pub const MAX_SAMPLES: usize = 1 << 17;
/// Shallowest depth the scanner images, metres.
pub const MIN_DEPTH_M: f64 = 1e-3;
/// Deepest depth the scanner images, metres.
pub const MAX_DEPTH_M: f64 = 0.30;
/// Sampling rates accepted, Hz.
pub const FS_RANGE_HZ: (f64, f64) = (1e5, 1e9);
/// Largest magnitude of `t0_s`, seconds (far beyond the 0.4 ms round trip of 30 cm).
pub const MAX_T0_S: f64 = 0.01;

/// The time axis of a record: sample `k` lies at `t0_s + k / fs_hz`. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SamplingFields")]
pub struct Sampling {
    fs_hz: f64,
    t0_s: f64,
    n_samples: usize,
}

#[derive(Deserialize)]
struct SamplingFields {
    fs_hz: f64,
    t0_s: f64,
    n_samples: usize,
}

impl TryFrom<SamplingFields> for Sampling {
    type Error = Error;
    fn try_from(f: SamplingFields) -> Result<Sampling> {
        Sampling::new(f.fs_hz, f.t0_s, f.n_samples)
    }
}

impl Sampling {
    /// Explicit sampling: `fs_hz` in [`FS_RANGE_HZ`], `|t0_s|` ≤ [`MAX_T0_S`], `n_samples` in
    /// `1..=`[`MAX_SAMPLES`].
    pub fn new(fs_hz: f64, t0_s: f64, n_samples: usize) -> Result<Sampling> {
        plausible("fs_hz", fs_hz, FS_RANGE_HZ.0, FS_RANGE_HZ.1, "Hz")?;
        plausible("t0_s", t0_s, -MAX_T0_S, MAX_T0_S, "s")?;
        if n_samples == 0 || n_samples > MAX_SAMPLES {
            return Err(Error::invalid("n_samples", format!("1..={MAX_SAMPLES}"), n_samples));
        }
        Ok(Sampling { fs_hz, t0_s, n_samples })
    }

    /// Sampling from `t0 = 0` long enough to record echoes from `depth_max_m`
    /// ([`MIN_DEPTH_M`]..=[`MAX_DEPTH_M`]) for every event of `sequence`: the largest firing delay,
    /// the round trip to that depth from the far edge of the aperture, and the pulse's tail.
    pub fn for_depth(fs_hz: f64, depth_max_m: f64, sequence: &Sequence, pulse: &Pulse) -> Result<Sampling> {
        if !(depth_max_m.is_finite() && (MIN_DEPTH_M..=MAX_DEPTH_M).contains(&depth_max_m)) {
            return Err(Error::DepthOutOfRange {
                name: "depth_max_m",
                got_m: depth_max_m,
                min_m: MIN_DEPTH_M,
                max_m: MAX_DEPTH_M,
            });
        }
        plausible("fs_hz", fs_hz, FS_RANGE_HZ.0, FS_RANGE_HZ.1, "Hz")?;
        let c = sequence.c_m_s();
        // The longest path: a lateral margin of the depth itself (edge channels, steered waves).
        let t_max = sequence.max_delay_s() + 2.0 * depth_max_m * std::f64::consts::SQRT_2 / c + pulse.half_length_s();
        let n = (t_max * fs_hz).ceil() + 1.0;
        if n.is_nan() || n > MAX_SAMPLES as f64 {
            return Err(Error::invalid(
                "n_samples",
                format!("1..={MAX_SAMPLES} samples (lower fs_hz or the depth)"),
                n,
            ));
        }
        Sampling::new(fs_hz, 0.0, n as usize)
    }

    /// Sampling rate, Hz.
    pub fn fs_hz(&self) -> f64 {
        self.fs_hz
    }
    /// Time of sample 0, seconds (time zero as defined in [`crate::sequence`]).
    pub fn t0_s(&self) -> f64 {
        self.t0_s
    }
    /// Samples per trace.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }
    /// Time of sample `k`, seconds.
    pub fn time_s(&self, k: usize) -> f64 {
        self.t0_s + k as f64 / self.fs_hz
    }
    /// Time of the last sample, seconds.
    pub fn end_s(&self) -> f64 {
        self.time_s(self.n_samples - 1)
    }
}

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
    /// What the `.npy` reader needs to know of a sample type: its dtype and how to build it from
    /// its `f32` components.
    pub trait Sealed: Sized {
        /// The numpy dtype letter and size: `f4` (float32) or `c8` (complex64).
        const DTYPE: &'static str;
        /// What the dtype is called in messages.
        const DTYPE_NAME: &'static str;
        /// Number of `f32` components (1 real, 2 complex).
        const COMPONENTS: usize;
        /// The sample from its components (`c.len() == COMPONENTS`).
        fn from_components(c: &[f32]) -> Self;
    }
    impl Sealed for f32 {
        const DTYPE: &'static str = "f4";
        const DTYPE_NAME: &'static str = "float32 (RF)";
        const COMPONENTS: usize = 1;
        fn from_components(c: &[f32]) -> Self {
            c[0]
        }
    }
    impl Sealed for num_complex::Complex32 {
        const DTYPE: &'static str = "c8";
        const DTYPE_NAME: &'static str = "complex64 (IQ)";
        const COMPONENTS: usize = 2;
        fn from_components(c: &[f32]) -> Self {
            num_complex::Complex32::new(c[0], c[1])
        }
    }
}

/// Largest distance of a channel from the origin, metres (plausibility: a probe is centimetres wide).
pub const MAX_CHANNEL_DISTANCE_M: f64 = 10.0;

/// What a record is: sampling, pulse, sequence and receive channels. See the [module docs](self).
///
/// Built with [`Metadata::for_aperture`] or [`Metadata::new`] (validated) and changed only through
/// methods that keep it valid; `meta.json` files are validated the same way when read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MetadataFields")]
pub struct Metadata {
    #[serde(flatten)]
    sampling: Sampling,
    fc_hz: f64,
    c_m_s: f64,
    demod_hz: Option<f64>,
    channel_positions_m: Vec<[f64; 3]>,
    channel_normals: Vec<[f64; 3]>,
    sequence: Sequence,
}

#[derive(Deserialize)]
struct MetadataFields {
    fs_hz: f64,
    t0_s: f64,
    n_samples: usize,
    fc_hz: f64,
    c_m_s: f64,
    demod_hz: Option<f64>,
    channel_positions_m: Vec<[f64; 3]>,
    #[serde(default)]
    channel_normals: Vec<[f64; 3]>,
    sequence: Sequence,
}

impl TryFrom<MetadataFields> for Metadata {
    type Error = Error;
    fn try_from(f: MetadataFields) -> Result<Metadata> {
        let normals = if f.channel_normals.is_empty() {
            vec![[0.0, 0.0, 1.0]; f.channel_positions_m.len()]
        } else {
            f.channel_normals
        };
        let m = Metadata::new(
            Sampling::new(f.fs_hz, f.t0_s, f.n_samples)?,
            f.fc_hz,
            f.sequence,
            f.channel_positions_m,
            normals,
        )?;
        if (m.c_m_s - f.c_m_s).abs() > 1e-9 * m.c_m_s {
            return Err(Error::invalid(
                "c_m_s",
                format!("the sequence's speed of sound {} m/s", m.c_m_s),
                f.c_m_s,
            ));
        }
        match f.demod_hz {
            Some(d) => m.demodulated(m.sampling, d),
            None => Ok(m),
        }
    }
}

impl Metadata {
    /// An RF record: `sampling`, a pulse at `fc_hz`, the transmit `sequence` (whose speed of sound
    /// the record keeps), and receive channels at `positions_m` facing `normals` (one per channel,
    /// finite and non-zero; normalised here).
    pub fn new(
        sampling: Sampling,
        fc_hz: f64,
        sequence: Sequence,
        positions_m: Vec<[f64; 3]>,
        normals: Vec<[f64; 3]>,
    ) -> Result<Metadata> {
        plausible("fc_hz", fc_hz, 1e3, 1e9, "Hz")?;
        if positions_m.is_empty() {
            return Err(Error::empty("channel_positions_m", "at least one receive channel"));
        }
        if normals.len() != positions_m.len() {
            return Err(Error::shape(
                "channel_normals",
                format!("{} normals (one per channel)", positions_m.len()),
                normals.len().to_string(),
            ));
        }
        for p in &positions_m {
            let r = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
            if !(p.iter().all(|v| v.is_finite()) && r <= MAX_CHANNEL_DISTANCE_M) {
                return Err(Error::invalid(
                    "channel_positions_m",
                    format!("finite positions within {MAX_CHANNEL_DISTANCE_M} m of the origin, in metres"),
                    format!("{p:?}"),
                ));
            }
        }
        let normals = normals
            .into_iter()
            .map(|n| unit_vector("channel_normals", n))
            .collect::<Result<Vec<_>>>()?;
        Ok(Metadata {
            sampling,
            fc_hz,
            c_m_s: sequence.c_m_s(),
            demod_hz: None,
            channel_positions_m: positions_m,
            channel_normals: normals,
            sequence,
        })
    }

    /// An RF record received on the channels of `aperture` (their reference points and normals).
    pub fn for_aperture(sampling: Sampling, fc_hz: f64, sequence: Sequence, aperture: &Aperture) -> Result<Metadata> {
        let ch = aperture.channels();
        Metadata::new(
            sampling,
            fc_hz,
            sequence,
            ch.iter().map(|c| c.position_m).collect(),
            ch.iter().map(|c| c.normal).collect(),
        )
    }

    /// The same record after demodulation at `demod_hz` and resampling to `sampling` (IQ).
    pub fn demodulated(&self, sampling: Sampling, demod_hz: f64) -> Result<Metadata> {
        in_range("demod_hz", demod_hz, -1e9, 1e9)?;
        Ok(Metadata {
            sampling,
            demod_hz: Some(demod_hz),
            ..self.clone()
        })
    }

    /// The sampling of the samples.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }
    /// Sampling rate of the samples, Hz.
    pub fn fs_hz(&self) -> f64 {
        self.sampling.fs_hz
    }
    /// Time of sample 0, seconds (time zero as defined in [`crate::sequence`]).
    pub fn t0_s(&self) -> f64 {
        self.sampling.t0_s
    }
    /// Samples per trace.
    pub fn n_samples(&self) -> usize {
        self.sampling.n_samples
    }
    /// Centre frequency of the pulse, Hz.
    pub fn fc_hz(&self) -> f64 {
        self.fc_hz
    }
    /// Speed of sound the sequence was computed for, m/s.
    pub fn c_m_s(&self) -> f64 {
        self.c_m_s
    }
    /// Demodulation frequency of IQ data (`None` for RF).
    pub fn demod_hz(&self) -> Option<f64> {
        self.demod_hz
    }
    /// Reference position of each receive channel, metres.
    pub fn channel_positions_m(&self) -> &[[f64; 3]] {
        &self.channel_positions_m
    }
    /// Unit normal of each receive channel.
    pub fn channel_normals(&self) -> &[[f64; 3]] {
        &self.channel_normals
    }
    /// Number of receive channels.
    pub fn n_channels(&self) -> usize {
        self.channel_positions_m.len()
    }
    /// The transmit sequence (one event per `tx` index).
    pub fn sequence(&self) -> &Sequence {
        &self.sequence
    }
    /// Shape `[tx, channel, sample]` of the data this record describes.
    pub fn data_shape(&self) -> (usize, usize, usize) {
        (self.sequence.len(), self.n_channels(), self.sampling.n_samples)
    }
}

/// Samples plus metadata. See the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelData<S: Sample = f32> {
    data: Array3<S>,
    meta: Metadata,
}

impl<S: Sample> ChannelData<S> {
    /// Wraps samples `[tx, channel, sample]` with their metadata, checking that they fit together
    /// (shape [`Metadata::data_shape`], RF samples with RF metadata and IQ with IQ).
    pub fn new(data: Array3<S>, meta: Metadata) -> Result<Self> {
        let (nt, nc, ns) = data.dim();
        if nt != meta.sequence.len() {
            return Err(Error::shape(
                "data",
                format!("{} transmits (the sequence's length)", meta.sequence.len()),
                format!("{nt}"),
            ));
        }
        if nc != meta.n_channels() {
            return Err(Error::shape(
                "data",
                format!("{} channels", meta.n_channels()),
                format!("{nc}"),
            ));
        }
        if ns != meta.n_samples() {
            return Err(Error::shape(
                "data",
                format!("{} samples per trace (the metadata's sampling)", meta.n_samples()),
                format!("{ns}"),
            ));
        }
        match (S::IS_IQ, meta.demod_hz) {
            (true, Some(_)) | (false, None) => {}
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
    /// The sampling.
    pub fn sampling(&self) -> Sampling {
        self.meta.sampling
    }
    /// Sampling rate, Hz.
    pub fn fs_hz(&self) -> f64 {
        self.meta.fs_hz()
    }
    /// Time of sample 0, seconds.
    pub fn t0_s(&self) -> f64 {
        self.meta.t0_s()
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
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let write = |name: &str, f: &dyn Fn(BufWriter<File>) -> std::result::Result<(), Error>| -> Result<()> {
            let p = dir.join(name);
            let file = File::create(&p).map_err(|e| Error::io(&p, e))?;
            f(BufWriter::new(file))
        };
        let npy = |name: &str| {
            let p = dir.join(name);
            move |e: ndarray_npy::WriteNpyError| match e {
                ndarray_npy::WriteNpyError::Io(io) => Error::io(&p, io),
                other => Error::format(&p, other),
            }
        };
        write("data.npy", &|w| self.data.write_npy(w).map_err(npy("data.npy")))?;
        let pos = Array2::from_shape_fn((self.n_channels(), 3), |(c, k)| self.meta.channel_positions_m[c][k]);
        write("channel_positions.npy", &|w| {
            pos.write_npy(w).map_err(npy("channel_positions.npy"))
        })?;
        let seq = &self.meta.sequence;
        let n_tx_ch = seq.events().iter().map(|e| e.delays_s().len()).max().unwrap_or(0);
        let delays = Array2::from_shape_fn((seq.len(), n_tx_ch), |(t, c)| {
            seq.events()[t].delays_s().get(c).copied().unwrap_or(f64::NAN)
        });
        write("tx_delays.npy", &|w| delays.write_npy(w).map_err(npy("tx_delays.npy")))?;
        let p = dir.join("meta.json");
        write("meta.json", &|w| {
            serde_json::to_writer_pretty(w, &self.meta).map_err(|e| Error::format(&p, e))
        })
    }

    /// Reads a folder written by [`ChannelData::save`] (`meta.json` and `data.npy`; the other files
    /// are for numpy users and are not read).
    ///
    /// Nothing is allocated from a file's claims before they are checked. `meta.json` must be a
    /// regular file of at most [`MAX_META_JSON_BYTES`]; it is
    /// parsed and validated as [`Metadata`] (serde_json's nesting limit guards against deeply
    /// nested input). The data size that it describes is checked against `memory_cap_bytes`
    /// ([`crate::DEFAULT_MEMORY_CAP_BYTES`] with [`ChannelData::load`]). Then the `.npy` header of
    /// `data.npy` is parsed here (magic, version 1, 2 or 3, a header of at most
    /// [`MAX_NPY_HEADER_BYTES`], the dictionary's `descr`, `fortran_order` and `shape`): the dtype
    /// must be that of `S` (`float32` for RF, `complex64` for IQ, either byte order), the order C,
    /// the shape the `[tx, channel, sample]` of `meta.json`, and the file exactly as long as header
    /// plus data. Only then is the data read, into one allocation of its exact size.
    ///
    /// Errors: [`Error::Io`] naming the file when it cannot be opened or read; [`Error::Format`]
    /// naming the file when its content is not what sonochip writes (truncated, corrupted, wrong
    /// dtype or order, a shape that disagrees with `meta.json`, invalid or implausible metadata,
    /// RF data where IQ was asked for or the reverse); [`Error::TooLarge`] (`data.npy`) when the
    /// data exceed the cap or cannot be allocated. Cost: the size of the two files in reading,
    /// one allocation of the data's size plus the parsed metadata.
    pub fn load_with_cap(dir: impl AsRef<Path>, memory_cap_bytes: u64) -> Result<Self> {
        let dir = dir.as_ref();
        let meta_path = dir.join("meta.json");
        let meta = read_meta(&meta_path)?;
        match (S::IS_IQ, meta.demod_hz) {
            (true, None) => {
                return Err(Error::format_msg(
                    &meta_path,
                    "describes RF data (no demod_hz) where IQ data (complex64) were asked for",
                ));
            }
            (false, Some(f)) => {
                return Err(Error::format_msg(
                    &meta_path,
                    format!("describes IQ data (demod_hz = {f} Hz) where RF data (float32) were asked for"),
                ));
            }
            _ => {}
        }
        let (nt, nc, ns) = meta.data_shape();
        let n = nt as u128 * nc as u128 * ns as u128;
        let bytes = n * std::mem::size_of::<S>() as u128;
        check_size("data.npy", bytes, memory_cap_bytes)?;
        let data_path = dir.join("data.npy");
        let data = read_npy::<S>(&data_path, [nt, nc, ns], memory_cap_bytes)?;
        ChannelData::new(data, meta)
    }

    /// [`ChannelData::load_with_cap`] with the default memory cap.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_with_cap(dir, crate::error::DEFAULT_MEMORY_CAP_BYTES)
    }
}

/// Checks that data described by `got` is what a plan for `expected` accepts: the same sampling,
/// demodulation, receive channels and transmit events. The error names the first field that
/// differs.
pub(crate) fn check_fits(expected: &Metadata, got: &Metadata) -> Result<()> {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-30);
    let (e, g) = (&expected.sampling, &got.sampling);
    if !close(g.fs_hz, e.fs_hz) {
        return Err(Error::invalid("fs_hz", format!("the plan's {} Hz", e.fs_hz), g.fs_hz));
    }
    if (g.t0_s - e.t0_s).abs() > 1e-3 / e.fs_hz {
        return Err(Error::invalid("t0_s", format!("the plan's {} s", e.t0_s), g.t0_s));
    }
    match (got.demod_hz, expected.demod_hz) {
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
    let far = |a: &[f64; 3], b: &[f64; 3]| (0..3).any(|k| (a[k] - b[k]).abs() > 1e-9);
    if got.channel_positions_m.len() != expected.channel_positions_m.len()
        || got
            .channel_positions_m
            .iter()
            .zip(&expected.channel_positions_m)
            .any(|(a, b)| far(a, b))
    {
        return Err(Error::shape(
            "channel_positions_m",
            "the plan's receive channel positions",
            "different positions",
        ));
    }
    let same_event = |a: &crate::sequence::TxEvent, b: &crate::sequence::TxEvent| {
        a.kind() == b.kind()
            && a.delays_s().len() == b.delays_s().len()
            && a.delays_s()
                .iter()
                .zip(b.delays_s())
                .all(|(x, y)| (x - y).abs() <= 1e-12)
    };
    let (se, sg) = (expected.sequence.events(), got.sequence.events());
    if se.len() != sg.len() || se.iter().zip(sg).any(|(a, b)| !same_event(a, b)) {
        return Err(Error::shape(
            "sequence",
            "the plan's transmit events",
            "different events",
        ));
    }
    if g.n_samples != e.n_samples {
        return Err(Error::shape(
            "data",
            format!("{} samples per trace (the plan's)", e.n_samples),
            g.n_samples.to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Aperture, Probe};

    fn meta(n_ch: usize, seq: Sequence, n_samples: usize) -> Metadata {
        Metadata::new(
            Sampling::new(20e6, 1e-6, n_samples).unwrap(),
            5e6,
            seq,
            (0..n_ch).map(|i| [i as f64 * 3e-4, 0.0, 0.0]).collect(),
            vec![[0.0, 0.0, 1.0]; n_ch],
        )
        .unwrap()
    }

    #[test]
    fn save_load_round_trip() {
        let probe = Probe::linear(4, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
        let ap = Aperture::full(&probe, None).unwrap();
        let seq = Sequence::plane_waves(&ap, &[0.0, 0.1], 1540.0).unwrap();
        let data = Array3::from_shape_fn((2, 4, 16), |(a, b, c)| (a * 100 + b * 10 + c) as f32);
        let cd = ChannelData::new(data, meta(4, seq, 16)).unwrap();
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
        assert!(ChannelData::new(Array3::<f32>::zeros((2, 4, 8)), meta(4, seq.clone(), 8)).is_err());
        assert!(ChannelData::new(Array3::<f32>::zeros((1, 3, 8)), meta(4, seq.clone(), 8)).is_err());
        assert!(ChannelData::new(Array3::<Complex32>::zeros((1, 4, 8)), meta(4, seq.clone(), 8)).is_err());
        assert!(ChannelData::new(Array3::<f32>::zeros((1, 4, 9)), meta(4, seq, 8)).is_err());
    }

    #[test]
    fn sampling_is_validated_on_every_path() {
        assert!(Sampling::new(20e6, 0.0, 0).is_err());
        assert!(Sampling::new(20e6, 1e300, 700).is_err());
        assert!(Sampling::new(1e30, 0.0, 700).is_err());
        assert!(serde_json::from_str::<Sampling>(r#"{"fs_hz":2e7,"t0_s":0,"n_samples":0}"#).is_err());
        let s: Sampling = serde_json::from_str(r#"{"fs_hz":2e7,"t0_s":0,"n_samples":10}"#).unwrap();
        assert_eq!(s.n_samples(), 10);
        assert!((s.end_s() - 9.0 / 2e7).abs() < 1e-15);
    }

    #[test]
    fn normals_of_any_magnitude_normalise() {
        let n = unit_vector("n", [1e300, 0.0, 1e300]).unwrap();
        assert!((n[0] - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-15 && (n[2] - n[0]).abs() < 1e-15);
        assert!(unit_vector("n", [0.0; 3]).is_err());
        assert!(unit_vector("n", [f64::NAN, 0.0, 1.0]).is_err());
        assert!(unit_vector("n", [1e-310, 0.0, 0.0]).unwrap()[0] == 1.0);
    }
}
