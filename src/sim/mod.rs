//! RF channel-data simulator.
//!
//! [`Simulator`] turns a probe aperture, a transmit [`Sequence`], a [`Medium`], a [`Pulse`] and a
//! [`Phantom`] into RF channel data `[tx, channel, sample]`.
//!
//! # Model
//!
//! Linear acoustics with point scatterers (Born approximation, no multiple scattering), in the time
//! domain. For a scatterer at `p` and a transmit event:
//!
//! 1. **Transmit field.** Every transmitting (sub-)element `e` fires at its delay (channel delay
//!    minus its lens advance) with the channel's weight; its contribution reaches `p` after
//!    `|p − x_e| / c` with amplitude `D_e(p) / |p − x_e|`, where `D_e` is the element directivity
//!    `sinc(w·sinθ_u / λ) · sinc(h·sinθ_y / λ) · cosθ` (baffled rectangular piston, `θ_u`, `θ_y` the
//!    angles in the element's azimuth and elevation planes, `cosθ` the obliquity factor), evaluated at
//!    the centre frequency (or across the band: [below](#directivity-across-the-band)). The
//!    incident field at `p` is the superposition of all these impulses
//!    convolved with the pulse-echo waveform (whose spectrum is the excitation's times the
//!    transducer's, [`Pulse`]: cosine or sine burst, or a sampled waveform), so focusing,
//!    diffraction, edge waves and side lobes follow from the geometry rather than from a delay law.
//! 2. **Attenuation.** Each leg (transmit channel → `p`, `p` → receive channel) is attenuated by
//!    `exp(−α·fc·r)` at the centre frequency (`α` in Np/(m·Hz), `r` from the channel's reference point);
//!    the pulse's spectrum is additionally shaped by `exp(−α·(|f| − fc)·L)` for the round-trip path
//!    `L = 2·|p − aperture centre|`, which lowers the echo's centre frequency with depth. The waveform
//!    for each `L` comes from a table with 0.25 mm steps, linearly blended. Numerically the table
//!    holds the whole attenuation of the path, `S(f)·exp(−α·|f|·L)` (each waveform normalised to
//!    its peak, the peak's logarithm kept beside it and blended geometrically), and each leg only
//!    `exp(−α·fc·(r − L/2))`: a deep, lossy echo comes out as small as it is (0 below `f32`'s
//!    range), never as an overflowed normalisation times an underflowed sample.
//!    [`MAX_APERTURE_LOSS_NP`] bounds the legs' factors. With an attenuation map the table is
//!    indexed by the equivalent path instead (next section).
//! 3. **Receive.** Each receiving element sees the incident waveform delayed by `|p − x_e| / c` and
//!    weighted by `D_e(p) / |p − x_e|` (reciprocity); a column channel is the sum of its elements after
//!    their lens advances.
//!
//! # Sub-elements
//!
//! A point source with the far-field directivity of its rectangle is right only beyond the
//! element's far-field distance, about `h²/λ` for its longer side `h`: 30 mm for a 5 mm tall
//! element at 7.6 MHz, where a 1-row probe's echoes fell with depth 10–28 dB off a model of the
//! element's surface. So each element is split, inside the simulator, into `a × b` equal
//! sub-elements ([`SimOptions::subelements`]; [`Subelements::Auto`]: sides of at most
//! [`AUTO_MAX_SUBELEMENT_WAVELENGTHS`] wavelengths at fc, as Field II's mathematical elements and
//! MUST's element splitting do). Each sub-element is a source of the model above with its own
//! size in the directivity, weighted `1/(a·b)` so that the element's far field is unchanged, and
//! keeps its channel's delay and weight. Its lens advance is the one its own position has under
//! the aperture's elevation lens (a [`ChannelMode::Columns`](crate::probe::ChannelMode) focus: the
//! lens law at its distance from the channel's axis), so a 1-row probe behind a lens is focused in
//! elevation; without a lens it keeps its element's advance (0). A channel becomes `a`
//! sub-columns in azimuth, each a column of sub-elements that the column path below handles. On
//! axis from 5 to 60 mm, a 1-row probe's 5 mm element split this way follows the same probe built
//! from 35 rows within 0.40 dB, unfocused or behind a 20 mm lens (`tests/sim_physics.rs`). The
//! CMUT's 198 µm elements are not split up to 8.55 MHz; a run costs about as many times more as
//! there are sub-elements per element on the element path, less on the column path (the 1-row
//! PICMUS-like probe at 5.2 MHz, 1 × 16: 1.5 times, `docs/performance.md#sub-elements`).
//!
//! # Directivity across the band
//!
//! The far-field factor of a rectangle is `H(f) = sinc(f·T_u)·sinc(f·T_y)·cosθ` with
//! `T_u = w·sinθ_u/c`, `T_y = h·sinθ_y/c` (in time, two boxcars of those durations). By default it
//! is evaluated at fc, one weight per impulse: exact at fc, and across the band too broad in angle
//! at the upper band edge and too narrow at the lower one for elements of about a wavelength at
//! steep angles (32 dB off at 45° at the upper edge of an 80 % band for a 0.97 λ element).
//! [`Directivity::Broadband`] ([`SimOptions::directivity`]) replaces each leg's factor by its
//! least-squares fit `A + B·φ(f)`, `φ(f) = |f|/fc − 1`, weighted by the pulse's power spectrum
//! `|S(f)|²` and read from a table over `(w·sinθ_u/λ, h·sinθ_y/λ)` made once per run (steps of at
//! most 1/32, bilinear). An echo's spectrum is then `S·(A_t + B_t·φ)·(A_r + B_r·φ)`: the pulse
//! table holds `S·φ⁰`, `S·φ¹` and `S·φ²`, each scatterer's incident waves are
//! `w0 = S·(A_t + B_t·φ)` and `w1 = S·φ·(A_t + B_t·φ)` (two histograms, four convolutions), and a
//! receive tap adds `A_r·w0 + B_r·w1`. On the column path a delay bin collapses `A` by its phasor
//! at fc as before and `B` by the part of its phasor in phase with `A`'s. Measured against the
//! exact per-frequency response (`tests/sim_directivity.rs`): within 0.39 dB across the −6 dB
//! band wherever it is above −20 dB, in azimuth and elevation up to 45°; the fit's weighted RMS
//! error is 0.5–0.8 % of broadside up to 0.7 λ of aperture seen at the angle, about 4 % near the
//! first null. Cost: about twice the default (`docs/performance.md`).
//!
//! # Attenuation along the path
//!
//! [`Simulator::with_attenuation`] gives regions of the x–z plane their own attenuation
//! ([`AttenuationMap`]). The attenuation is linear in frequency everywhere, so an echo's loss at
//! every frequency `f` is `exp(−|f|·A)` with `A = ∫α ds` over its round trip (Np/Hz), and a path
//! through several tissues is the same as a homogeneous one of equivalent length `L_eq = A / α_t`.
//! Each scatterer therefore takes the pulse table's waveform for `L_eq` instead of its geometric
//! round trip: its amplitude *and* its frequency downshift follow the tissue along the path, and
//! the table itself is unchanged (tabulated in `α_t`: the medium's attenuation, at least soft
//! tissue's when a map is given, so that a lossless medium with a map works; it is lengthened to
//! the most loss a path can gather in the map's regions).
//!
//! `A` is the medium's part as before, `2·α·|p − centre|` (the legs' relative factors
//! `exp(−α·fc·(r − r0))` refer to it), plus the map's excess `∫(α_map − α) ds` along one straight
//! ray per leg, integrated exactly by cutting the ray at the regions' boundaries (`O(regions²)`
//! per scatterer and transmit, no allocation):
//! * **transmit**: from where the transmitted wave's ray through the scatterer leaves the probe
//!   face — back along the direction of a plane wave, on the line from a diverging wave's virtual
//!   source (the element itself in synthetic aperture) — or from the aperture's centre for a
//!   focused wave or explicit delays;
//! * **receive**: up to the point of the receive aperture's lateral extent nearest the scatterer
//!   (straight up under a linear array, as the receive aperture a beamformer centres on the
//!   pixel; towards the nearest edge beside it).
//!
//! That is the approximation: every element of the aperture sees the scatterer through its
//! leg's one ray, so a shadow's edge is the sharp projection of its region along that ray rather
//! than a penumbra where rays from different elements cross the region's edge differently (as wide
//! as the part of the aperture that receives, times the region's distance over the scatterer's);
//! away from such edges the model is exact for straight rays (no refraction, and no reflection or
//! transmission loss at the regions' boundaries: specular interfaces are scatterers, see
//! `phantom::SpecularInterface`). Per-channel rays would soften the edges at a cost of one path
//! integral per channel and scatterer, and could change only the level at fc (the waveform is
//! shared by the scatterer's channels); they are not implemented.
//!
//! # Elevation (column channels)
//!
//! A column of (sub-)elements behind an electronic elevation lens is summed, per scatterer, without
//! treating each of its 64 elements separately on the fast path ([`ElevationModel::Binned`], the
//! default): the elements' impulses are sorted into bins of a quarter period of delay, and each
//! bin is collapsed into one impulse by its phasor sum at the centre frequency
//! `G = Σ_e D_e/r_e · exp(−j·2π·fc·(τ_e − τ_bin))` (amplitude `|G|`, delay `τ_bin − arg(G)/(2π·fc)`).
//! Within a bin the delays differ by less than a quarter period, so the collapse is exact at fc
//! and within a few per cent across the band (RMS ≤ 3 % of the peak against the element-by-element
//! reference in the tests); a scatterer at the elevation focus needs one bin, an out-of-plane or
//! defocused one a few, which
//! reproduces both the elevation beam pattern and the pulse lengthening of elevation defocus.
//! [`ElevationModel::Exact`] keeps every element as its own impulse on transmit and receive (64 times
//! more impulses for 64 rows) and is the reference the tests compare against.
//!
//! # 2-D propagation
//!
//! [`SimOptions::propagation`] = [`Propagation::Cylindrical`] simulates the x–z plane as 2-D
//! simulators (k-Wave 2-D, 2-D FDTD) do: every (sub-)element and every scatterer is a line along
//! y, of unit strength per metre. The model is the far field of the 2-D Green's function,
//! normalised as the 3-D model integrated along y: the y-integral of the 3-D kernel
//! `exp(−jkr)/r` (time convention `e^{jωt}`) is `−jπ·H0⁽²⁾(kρ) ≈ sqrt(λ/ρ)·exp(−jkρ)/sqrt(j)`
//! for `kρ ≫ 1` (`λ = c/f`, `ρ` the distance in the x–z plane), so that each leg carries
//! `sqrt(λ/ρ)` and a factor `1/sqrt(j·f)`. The simulator splits this as:
//!
//! * **per leg** (the taps): spreading `sqrt(λ/ρ)` with `λ` at fc, held at its value at `r_min`
//!   closer in as in 3-D, times the azimuth directivity `sinc(w·sinθ_u/λ)·cosθ` (a line element
//!   has no elevation factor; at fc, or across the band with [`Directivity::Broadband`], whose
//!   fit is then the azimuth factor's), delay `ρ/c`, and the leg's attenuation at fc as in 3-D;
//! * **two-way** (the pulse table): `fc/(j·f)` (magnitude 1 and phase −90° at fc, 0 at DC and at
//!   the table's Nyquist frequency), applied to the pulse-echo spectrum before the attenuation
//!   `exp(−α·|f|·L)`; each waveform keeps the 3-D normalisation, so a 2-D echo's spectrum is
//!   `S(f)·(c/(j·f))/sqrt(ρ_tx·ρ_rx)` times the directivities: the y-integral of the 3-D echo, at
//!   every frequency.
//!
//! In time, `fc/(j·f)` integrates the echo (times `2π·fc`): it lowers the echo's centre frequency
//! and turns its symmetric cosine shape into a sine-like one. A pulse whose spectrum is not 0 at
//! DC integrates to a step, which the table's waveform (the same length as in 3-D) cuts at its
//! ends: cosine bursts of whole periods have almost none (from the transducer's Gaussian at DC,
//! 1.2e-3 of the peak at 100 % bandwidth), 1.5 periods at 80 % bandwidth leave 3.5 %.
//!
//! All (sub-)elements of a column share x and z, so each sub-column is one line source at its
//! reference point, weighted `1/a` for `a` sub-columns per element: a channel's far field is the
//! same whatever its elements' number, height or y. The scatterers' y, the elements' y and the
//! elevation lens's advances are ignored (a scatterer is moved along y to the transmit aperture's
//! centre), so [`ElevationModel::Binned`] and [`ElevationModel::Exact`] give the same RF. The
//! medium's attenuation and an [`AttenuationMap`] act as in 3-D. The run's buffers are the same;
//! it computes one tap per sub-column instead of one per sub-element or delay bin (not timed
//! separately: the incident waves and the receive are as in 3-D). Tests:
//! `tests/sim_2d.rs` (`docs/physics.md#2-d-propagation`).
//!
//! # Numerics
//!
//! Impulses are placed on an internal grid `M·fs` (`M` the smallest power of two, at most 16, with
//! `M·fs ≥ 16·fc`) with linear weights, convolved with the tabulated pulse there, and read back at
//! the output samples by linear interpolation on that fine grid: amplitude errors ≈ 1–2 % at `fc`,
//! timing errors far below a sample. Noise, analog TGC and ADC quantization are applied to the
//! finished traces in that order (thermal noise at the receiver input, then the amplifier, then
//! the converter).
//!
//! # Parallelism and determinism
//!
//! Scatterers are sorted by distance from the aperture centre and processed in blocks; per-scatterer
//! work runs in parallel; each trace is accumulated by one task in scatterer order, whatever the
//! blocks (whose size may follow the thread count); noise uses one seeded stream per trace and a
//! record RMS summed in a fixed order. The output is bit-identical for any number of rayon threads.
//!
//! # Memory and limits
//!
//! Every buffer of a run is sized from the inputs before the run starts: the RF, the pulse table,
//! the taps and incident waves of one block of scatterers (sized by bounds no scatterer exceeds)
//! and one scratch set per thread. [`Simulator::memory_bytes`] adds them up and [`Simulator::run`]
//! refuses a run above [`SimOptions::memory_cap_bytes`] before allocating anything large; nothing
//! large lives on the stack (runs work in rayon pools with 64 KiB thread stacks). Valid inputs
//! give finite RF: scatterers anywhere (behind, on or next to the probe face), deep and lossy
//! media (echoes as small as they are, down to 0), and a clear error where `f32` cannot hold the
//! echoes or the attenuation across the aperture exceeds [`MAX_APERTURE_LOSS_NP`].
//!
//! ```
//! use sonochip::prelude::*;
//! # fn main() -> sonochip::Result<()> {
//! let probe = Probe::linear(32, 3e-4, 2.7e-4, 5e-3, 1)?;
//! let ap = Aperture::full(&probe, None)?;
//! let seq = Sequence::plane_waves(&ap, &[0.0], 1540.0)?;
//! let pulse = Pulse::new(5e6, 0.8, 1.0)?;
//! let sampling = Sampling::for_depth(20e6, 0.03, &seq, &pulse)?;
//! let sim = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, sampling)?;
//! let rf = sim.run(&Phantom::points(&[[0.0, 0.0, 0.02]])?)?;
//! assert_eq!(rf.data().dim(), (1, 32, sampling.n_samples()));
//! # Ok(()) }
//! ```

// The model's internals, one concept per file: the sizes and memory of a run (`plan`), what a run
// precomputes (`context`), the per-thread scratch (`scratch`), the impulses of a scatterer on
// every channel including the column binning (`taps`), the pulse table, incident wave and receive
// accumulation (`wave`), and small numeric helpers (`math`).
mod context;
mod directivity;
pub mod ensemble;
mod kernel;
mod math;
mod plan;
mod scratch;
mod taps;
mod wave;

use crate::acquisition::Acquisition;
use crate::channel_data::{ChannelData, MAX_CHANNEL_DISTANCE_M, Metadata, Sampling};
use crate::error::{DEFAULT_MEMORY_CAP_BYTES, Error, Result, check_size, in_range};
use crate::medium::{AttenuationMap, Medium};
use crate::phantom::{Phantom, Scatterer};
use crate::probe::Aperture;
use crate::pulse::Pulse;
use crate::sequence::Sequence;
use crate::simd::KernelChoice;
use context::Context;
pub use directivity::Directivity;
use math::dist;
use ndarray::Array3;
use plan::RunPlan;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use scratch::Pool;
use taps::TapArena;
use wave::{RECEIVE_GROUP, WaveArena};

/// How column channels are computed. See the [module docs](self#elevation-column-channels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ElevationModel {
    /// Element impulses binned by delay (quarter-period bins), each bin collapsed at fc: one to a
    /// few taps per column and scatterer. Fast; the default.
    #[default]
    Binned,
    /// Every element its own impulse on transmit and receive: one tap per element and scatterer
    /// (64 times more work than `Binned` for 64 rows). The reference.
    Exact,
}

/// How the simulator divides each element into sub-elements. See the
/// [module docs](self#sub-elements).
///
/// An element is modelled as a point source with the far-field directivity of its rectangle,
/// which holds only beyond its far-field distance, about `h²/λ` for a side `h` (30 mm for a
/// 5 mm tall element at 7.6 MHz). Splitting it into sub-elements of about a wavelength, each such
/// a source, brings its near field back, as Field II's mathematical elements and MUST's element
/// splitting do. The split lives inside the simulator: the [`Probe`](crate::probe::Probe), the
/// apertures and the record are unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Subelements {
    /// Split each side longer than [`AUTO_MAX_SUBELEMENT_WAVELENGTHS`] wavelengths at the pulse's
    /// centre frequency (in the medium) into the fewest equal parts no longer than that, at most
    /// [`MAX_SUBELEMENTS`] per side. Elements of about a wavelength or less are not split (the
    /// 198 µm elements of the 140 × 64 CMUT up to 8.55 MHz in soft tissue). The default.
    #[default]
    Auto,
    /// `azimuth × elevation` sub-elements per element, each 1..=[`MAX_SUBELEMENTS`].
    Fixed {
        /// Parts of the element's width.
        azimuth: usize,
        /// Parts of the element's height.
        elevation: usize,
    },
    /// Every element one source (the model before sub-elements: exact in the element's far
    /// field only).
    None,
}

/// How waves spread: in 3-D from point sources, or in 2-D from line sources. See the
/// [module docs](self#2-d-propagation).
///
/// `Cylindrical` simulates the x–z plane as a 2-D simulator (k-Wave 2-D, a 2-D FDTD) does: every
/// (sub-)column of the apertures and every scatterer is a line along y. Per leg the amplitude
/// falls as `sqrt(λ/r)` instead of `1/r`, the echo's spectrum carries `fc/(j·f)` (a time
/// integration, unit gain at fc), the element directivity is the azimuth one only, and every y
/// (the scatterers', the elements' within a column, the elevation lens) is ignored, so both
/// [`ElevationModel`]s give the same RF. Contract: the far field of the 2-D Green's function,
/// normalised as the stationary-phase limit of the 3-D model integrated along y. Cost: the same
/// buffers as `Spherical` ([`Simulator::memory_bytes`] is unchanged) and one tap per sub-column
/// instead of one per sub-element or delay bin, so fewer taps for column channels; the incident
/// waves and the receive are as in 3-D (not timed separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Propagation {
    /// 3-D: point sources, spreading `1/r` per leg, rectangular-piston directivity. The default.
    #[default]
    Spherical,
    /// 2-D: line sources along y, spreading `sqrt(λ/r)` per leg, two-way spectral factor
    /// `fc/(j·f)`, azimuth directivity only.
    Cylindrical,
}

/// Longest side of an [`Subelements::Auto`] sub-element, wavelengths at the pulse's centre
/// frequency: sides up to 1.1 λ stay whole (so that an element of about a wavelength, such as the
/// CMUT's 198 µm at 8 MHz, λ = 192.5 µm, is not split into four for 3 % of size).
pub const AUTO_MAX_SUBELEMENT_WAVELENGTHS: f64 = 1.1;

/// Most sub-elements per side of an element ([`Subelements`]).
pub const MAX_SUBELEMENTS: usize = 64;

/// Options of a simulation: acquisition chain and resources. Plain data; [`Simulator::with_options`]
/// validates it. The default has no noise, TGC or quantization, the binned column model and a cap
/// of [`DEFAULT_MEMORY_CAP_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimOptions {
    /// Thermal noise: white Gaussian noise added at the receiver input so that
    /// `20·log10(rms(signal) / σ_noise) = snr_db` over the whole record, −60 to 200 dB (`None`: no
    /// noise; for an all-zero record σ = `10^(−snr_db/20)`).
    pub noise_snr_db: Option<f64>,
    /// Seed of the noise.
    pub noise_seed: u64,
    /// Analog TGC applied after the noise: gain `min(db_per_cm · depth_cm(t), max_db)` with
    /// `depth = c·t / 2`, `c` the medium's (`None`: no TGC).
    pub analog_tgc: Option<AnalogTgc>,
    /// ADC resolution in bits (2–24), full scale = the record's largest magnitude (`None`: no
    /// quantization).
    pub adc_bits: Option<u32>,
    /// Column model.
    pub elevation: ElevationModel,
    /// How each (sub-)element's directivity depends on frequency
    /// ([`Directivity::CentreFrequency`]: evaluated at fc, the default; `Broadband`: fitted
    /// across the band, about 1.6–2 times the cost).
    pub directivity: Directivity,
    /// Sub-elements of each element ([`Subelements::Auto`]: about a wavelength each).
    pub subelements: Subelements,
    /// Instruction set of the inner loops: [`KernelChoice::Auto`] (AVX2 where the CPU has it) or
    /// an explicit one, an error at [`Simulator::with_options`] if the CPU lacks it. Every kernel
    /// gives the same RF bit for bit; `Scalar` is the reference the others are tested against.
    /// The simulator has no AVX-512 or NEON loops of its own: `Avx512` runs the AVX2 loops and
    /// `Neon` the plain ones.
    pub kernel: KernelChoice,
    /// Most heap a run may use, bytes: [`Simulator::run`] checks [`Simulator::memory_bytes`]
    /// (RF, pulse table, per-block buffers, per-thread scratch) against it before allocating
    /// anything large.
    pub memory_cap_bytes: u64,
    /// 3-D ([`Propagation::Spherical`], the default) or 2-D ([`Propagation::Cylindrical`]: the
    /// x–z plane, sources and scatterers lines along y) propagation. See the
    /// [module docs](self#2-d-propagation).
    pub propagation: Propagation,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            noise_snr_db: None,
            noise_seed: 0,
            analog_tgc: None,
            adc_bits: None,
            elevation: ElevationModel::Binned,
            directivity: Directivity::CentreFrequency,
            subelements: Subelements::Auto,
            kernel: KernelChoice::Auto,
            memory_cap_bytes: DEFAULT_MEMORY_CAP_BYTES,
            propagation: Propagation::Spherical,
        }
    }
}

/// Analog time-gain compensation in the receive chain (see [`SimOptions::analog_tgc`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalogTgc {
    /// Gain slope, dB per cm of depth, 0–20.
    pub db_per_cm: f64,
    /// Largest gain, dB, 0–120.
    pub max_db: f64,
}

/// Largest one-way attenuation at the centre frequency across the apertures, nepers (347 dB):
/// `α·fc·d` for the farthest element at distance `d` from the transmit aperture's centre. Each leg
/// of an echo is computed relative to the scatterer's distance from that centre, and this bound
/// keeps those relative factors (at most `exp(40)`) and their products far inside `f32`'s range.
/// Only extreme combinations reach it: on the 140 × 64 CMUT (elements up to 16 mm from the centre)
/// 20 dB/(cm·MHz) at 10 MHz is 37 Np, and soft tissue (0.5 dB/(cm·MHz)) would need 200 MHz.
pub const MAX_APERTURE_LOSS_NP: f64 = 40.0;

/// A configured simulation: transmit and receive apertures, sequence, medium, pulse, sampling and
/// options, checked to fit together when built. [`Simulator::run`] simulates a phantom; the
/// simulator can be run any number of times (it is `Sync`, runs do not change it). See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct Simulator {
    tx: Aperture,
    rx: Aperture,
    sequence: Sequence,
    medium: Medium,
    attenuation: AttenuationMap,
    pulse: Pulse,
    sampling: Sampling,
    options: SimOptions,
}

impl Simulator {
    /// Simulates `acquisition` (its aperture transmits and receives) in `medium`: as
    /// [`Simulator::from_parts`] with the acquisition's aperture, sequence, pulse and sampling.
    pub fn new(acquisition: &Acquisition, medium: Medium) -> Result<Simulator> {
        Simulator::from_parts(
            acquisition.aperture(),
            acquisition.sequence(),
            medium,
            acquisition.pulse(),
            acquisition.sampling(),
        )
    }

    /// Transmit and receive on `aperture` with `sequence` (one delay per aperture channel), without
    /// an [`Acquisition`] (no image grid needed).
    ///
    /// Errors: a sequence whose events do not have one delay per channel (`ShapeMismatch` on
    /// `sequence`); a sampling rate below the pulse's Nyquist rate (`BelowNyquist`); an element
    /// farther than [`MAX_CHANNEL_DISTANCE_M`] from the origin (`aperture`); an attenuation whose
    /// loss across the aperture exceeds [`MAX_APERTURE_LOSS_NP`] (`attenuation_db_cm_mhz`, stating
    /// the largest it may be). Cost: copies of the aperture and the sequence, one pass over the
    /// elements.
    pub fn from_parts(
        aperture: &Aperture,
        sequence: &Sequence,
        medium: Medium,
        pulse: Pulse,
        sampling: Sampling,
    ) -> Result<Simulator> {
        for ev in sequence.events() {
            if ev.delays_s().len() != aperture.n_channels() {
                return Err(Error::shape(
                    "sequence",
                    format!("{} delays per event (the aperture's channels)", aperture.n_channels()),
                    ev.delays_s().len().to_string(),
                ));
            }
        }
        pulse.check_sampling(sampling.fs_hz())?;
        let sim = Simulator {
            tx: aperture.clone(),
            rx: aperture.clone(),
            sequence: sequence.clone(),
            medium,
            attenuation: AttenuationMap::default(),
            pulse,
            sampling,
            options: SimOptions::default(),
        };
        sim.check_apertures()?;
        Ok(sim)
    }

    /// Receive on a different aperture of the same probe (for example every element on its own
    /// while transmitting with column channels). Errors: an aperture of another probe (`rx`), and
    /// the element and attenuation checks of [`Simulator::from_parts`] on the new aperture.
    pub fn with_rx_aperture(mut self, rx: &Aperture) -> Result<Simulator> {
        if rx.probe() != self.tx.probe() {
            return Err(Error::invalid(
                "rx",
                "an aperture of the transmit aperture's probe",
                rx.probe().name(),
            ));
        }
        self.rx = rx.clone();
        self.check_apertures()?;
        Ok(self)
    }

    /// Checks the apertures against the medium and the pulse. Every element lies within
    /// [`MAX_CHANNEL_DISTANCE_M`] of the origin (as a record's channels must; it bounds every delay
    /// and index). The echo of each element is computed relative to the scatterer's distance from
    /// the transmit aperture's centre, so its attenuation at fc varies across the apertures by up
    /// to `exp(±α·fc·d)`, `d` the largest distance of an element from that centre: that must stay
    /// within [`MAX_APERTURE_LOSS_NP`].
    fn check_apertures(&self) -> Result<()> {
        for ap in [&self.tx, &self.rx] {
            let els = ap.probe().elements();
            for ch in ap.channels() {
                for &e in &ch.elements {
                    let p = els[e].position_m;
                    if dist(p, [0.0; 3]) > MAX_CHANNEL_DISTANCE_M {
                        return Err(Error::invalid(
                            "aperture",
                            format!("elements within {MAX_CHANNEL_DISTANCE_M} m of the origin, in metres"),
                            format!("an element at {p:?}"),
                        ));
                    }
                }
            }
        }
        let c0 = self.tx.center_m();
        let reach = [&self.tx, &self.rx]
            .into_iter()
            .flat_map(|ap| {
                let els = ap.probe().elements();
                ap.channels()
                    .iter()
                    .flat_map(move |ch| ch.elements.iter().map(move |&e| dist(els[e].position_m, c0)))
            })
            .fold(0.0f64, f64::max);
        let loss = self.medium.alpha_np_per_m_hz() * self.pulse.fc_hz() * reach;
        if loss > MAX_APERTURE_LOSS_NP {
            let max_db = self.medium.attenuation_db_cm_mhz() * MAX_APERTURE_LOSS_NP / loss;
            return Err(Error::invalid(
                "attenuation_db_cm_mhz",
                format!(
                    "at most {max_db:.3} dB/(cm·MHz) with a {} MHz pulse and elements up to {:.1} mm from the \
                     aperture centre (the one-way attenuation across the aperture must stay within \
                     {MAX_APERTURE_LOSS_NP} Np, 347 dB, for f32 echoes)",
                    self.pulse.fc_hz() * 1e-6,
                    reach * 1e3
                ),
                self.medium.attenuation_db_cm_mhz(),
            ));
        }
        Ok(())
    }

    /// Attenuation that depends on the tissue: `map`'s regions have their own attenuation, the
    /// medium's applies elsewhere (an empty map is the homogeneous medium). Each echo is
    /// attenuated, at every frequency, by the map integrated along one straight ray per leg, the
    /// transmitted wave's and the receive aperture's (see the
    /// [module docs](self#attenuation-along-the-path)). The map is valid by construction; it may
    /// lengthen the pulse table (counted in [`Simulator::memory_bytes`]).
    ///
    /// Why a simulator setting and not a field of [`Medium`]: a medium is a small `Copy` value
    /// passed by value through presets, the imager and validation, and most runs need no map; the
    /// map is the scene's (it comes with a phantom, as `phantom::Anatomy` does), like the phantom
    /// given to [`Simulator::run`].
    pub fn with_attenuation(mut self, map: AttenuationMap) -> Simulator {
        self.attenuation = map;
        self
    }

    /// The attenuation map (empty unless [`Simulator::with_attenuation`] set one).
    pub fn attenuation(&self) -> &AttenuationMap {
        &self.attenuation
    }

    /// Sets the options, validated: `noise_snr_db` in −60..=200, `adc_bits` in 2..=24,
    /// `analog_tgc` slope in 0..=20 dB/cm and maximum in 0..=120 dB, fixed `subelements` in
    /// 1..=[`MAX_SUBELEMENTS`] per side (`InvalidParameter` naming the field otherwise).
    pub fn with_options(mut self, options: SimOptions) -> Result<Simulator> {
        if let Some(s) = options.noise_snr_db {
            in_range("noise_snr_db", s, -60.0, 200.0)?;
        }
        if let Some(b) = options.adc_bits
            && !(2..=24).contains(&b)
        {
            return Err(Error::invalid("adc_bits", "2..=24", b));
        }
        if let Some(t) = options.analog_tgc {
            in_range("analog_tgc.db_per_cm", t.db_per_cm, 0.0, 20.0)?;
            in_range("analog_tgc.max_db", t.max_db, 0.0, 120.0)?;
        }
        if let Subelements::Fixed { azimuth, elevation } = options.subelements {
            for (name, n) in [("subelements.azimuth", azimuth), ("subelements.elevation", elevation)] {
                if !(1..=MAX_SUBELEMENTS).contains(&n) {
                    return Err(Error::invalid(name, format!("1..={MAX_SUBELEMENTS}"), n));
                }
            }
        }
        kernel::Simd::select(options.kernel)?;
        self.options = options;
        Ok(self)
    }

    /// The sampling of the RF a run returns.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// Bytes of the RF array a run returns: transmits × receive channels × samples × 4.
    pub fn output_bytes(&self) -> u128 {
        self.sequence.len() as u128 * self.rx.n_channels() as u128 * self.sampling.n_samples() as u128 * 4
    }

    /// The peak heap, in bytes, that [`Simulator::run`] uses on a phantom of `phantom_len`
    /// scatterers in the rayon pool this is called in; `run` checks it against
    /// [`SimOptions::memory_cap_bytes`] before allocating anything large.
    ///
    /// It is the largest of the run's three phases, each the sum of what it holds:
    /// * building the pulse table: the apertures' geometry (40 B per sub-element, see
    ///   [`SimOptions::subelements`]) and the attenuation map's copy, the table (`paths × len × 4`
    ///   B: one waveform per 0.25 mm of round trip when the medium attenuates; with a map, per
    ///   0.25 mm of equivalent path, up to the most a ray can integrate through the map's regions)
    ///   and its FFT work (about 56 B per FFT point, 8 × the waveform's length);
    /// * accumulating the echoes: the geometry, the table, the RF ([`Simulator::output_bytes`]),
    ///   the scatterers' order (4 B each), and the buffers of one block of scatterers — the taps
    ///   of every sub-element (16 B each per scatterer), the incident waves (4 B per fine sample of
    ///   the longest possible wave per scatterer) — and one scratch set per thread (two waves, the
    ///   pulse and the longest column);
    /// * post-processing and describing the record: the RF and the metadata.
    ///
    /// The buffers are allocated at these sizes (bounds no scatterer exceeds), so the estimate is
    /// what a run allocates (measured within 0.2 % of the peak, `tests/sim_limits.rs`)
    /// rather than a guess about the phantom. Cost: one pass over the apertures' elements and the
    /// sequence's delays; nothing is allocated.
    pub fn memory_bytes(&self, phantom_len: usize) -> u128 {
        RunPlan::new(self).bytes(self, phantom_len)
    }

    /// Simulates the channel data of `phantom`: RF `[tx, channel, sample]` on the receive
    /// aperture, described by its [`Metadata`]. The output is the same, bit for bit, for any
    /// number of rayon threads, and the run needs no more than rayon's default thread stack (it
    /// works in pools with 64 KiB stacks).
    ///
    /// Errors: [`Error::TooLarge`] when [`Simulator::memory_bytes`] exceeds
    /// [`SimOptions::memory_cap_bytes`] (before anything large is allocated);
    /// [`Error::InvalidParameter`] on `rf` when echoes exceed `f32`'s range, and on `phantom` for
    /// more than 2³² − 1 scatterers (possible only by merging phantoms).
    ///
    /// Cost: per scatterer, the taps of every transmit and receive element (columns collapse into
    /// a few taps each), and per scatterer and transmit an incident wave (a convolution of the
    /// pulse with the transmit impulses on the fine grid) and one echo per receive tap added to
    /// the traces, in parallel over scatterers and channels.
    pub fn run(&self, phantom: &Phantom) -> Result<ChannelData<f32>> {
        if u32::try_from(phantom.len()).is_err() {
            // Phantom::merged adds without a limit; the order of the scatterers is kept in u32.
            return Err(Error::invalid("phantom", "at most 2^32 − 1 scatterers", phantom.len()));
        }
        let plan = RunPlan::new(self);
        check_size(
            "simulation",
            plan.bytes(self, phantom.len()),
            self.options.memory_cap_bytes,
        )?;
        let ctx = Context::new(self, &plan)?;
        let shape = (self.sequence.len(), self.rx.n_channels(), self.sampling.n_samples());
        let mut rf = vec![0.0f32; shape.0 * shape.1 * shape.2];
        self.accumulate(&ctx, &plan, phantom, &mut rf);
        drop(ctx);
        self.post_process(&mut rf);
        check_finite(&rf)?;
        let meta = Metadata::for_aperture(self.sampling, self.pulse.fc_hz(), self.sequence.clone(), &self.rx)?;
        let rf = Array3::from_shape_vec(shape, rf)
            .map_err(|e| Error::shape("rf", "[tx, channel, sample]", e.to_string()))?;
        ChannelData::new(rf, meta)
    }

    /// Adds the echoes of every scatterer of `phantom` to `rf`, a block of scatterers at a time:
    /// their taps, then per transmit their incident waves and the echoes on every channel.
    fn accumulate(&self, ctx: &Context, plan: &RunPlan, phantom: &Phantom, rf: &mut [f32]) {
        let scatterers = phantom.scatterers();
        // Sorted by distance from the aperture centre: neighbouring scatterers touch neighbouring
        // samples. The index breaks ties, so the order is a stable sort's, without its buffer.
        let c0 = self.tx.center_m();
        let mut order: Vec<u32> = Vec::with_capacity(scatterers.len());
        order.extend((0..scatterers.len() as u32).filter(|&i| scatterers[i as usize].amplitude != 0.0));
        if order.is_empty() {
            return;
        }
        let key = |i: u32| dist(ctx.in_plane(scatterers[i as usize].position_m), c0);
        order.sort_unstable_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
        let block = plan.block_for(order.len());
        let mut tx_taps = TapArena::new(block, plan.tx.elements, plan.tx.channels);
        let mut rx_taps = (!plan.same_apertures).then(|| TapArena::new(block, plan.rx.elements, plan.rx.channels));
        let mut waves = WaveArena::new(block, plan.wave_stride, plan.m, plan.waves());
        let pool = Pool::new(plan.scratch_sets(order.len()), plan.scratch_sizes());
        let mut chunk: Vec<&Scatterer> = Vec::with_capacity(block);
        let n_trace = self.rx.n_channels() * self.sampling.n_samples();
        for ids in order.chunks(block) {
            chunk.clear();
            chunk.extend(ids.iter().map(|&i| &scatterers[i as usize]));
            ctx.fill_taps(&ctx.tx_geo, &chunk, tx_taps.slots(), &pool);
            if let Some(rx) = &mut rx_taps {
                ctx.fill_taps(&ctx.rx_geo, &chunk, rx.slots(), &pool);
            }
            let rx_taps = rx_taps.as_ref().unwrap_or(&tx_taps);
            for (ev, traces) in self.sequence.events().iter().zip(rf.chunks_mut(n_trace)) {
                ctx.fill_waves(ev, &chunk, &tx_taps, &mut waves, &pool);
                let n_s = self.sampling.n_samples();
                traces
                    .par_chunks_mut((n_s * RECEIVE_GROUP).max(1))
                    .enumerate()
                    .for_each(|(g, group)| ctx.receive(group, n_s, g * RECEIVE_GROUP, chunk.len(), &waves, rx_taps));
            }
        }
    }

    /// Noise, analog TGC and ADC quantization on the finished traces `rf` (`[tx, channel,
    /// sample]`, C order), in that order.
    fn post_process(&self, slice: &mut [f32]) {
        let o = &self.options;
        let n_s = self.sampling.n_samples();
        if let Some(snr) = o.noise_snr_db {
            // Summed over fixed chunks, then in order: the same sum for any number of threads.
            let mut sums = Vec::with_capacity(NOISE_CHUNKS);
            slice
                .par_chunks(slice.len().div_ceil(NOISE_CHUNKS))
                .map(|c| c.iter().map(|v| (*v as f64).powi(2)).sum::<f64>())
                .collect_into_vec(&mut sums);
            let rms = (sums.iter().sum::<f64>() / slice.len() as f64).sqrt();
            let sigma = if rms > 0.0 {
                rms * 10f64.powf(-snr / 20.0)
            } else {
                10f64.powf(-snr / 20.0)
            };
            slice.par_chunks_mut(n_s).enumerate().for_each(|(i, trace)| {
                let mut rng = ChaCha8Rng::seed_from_u64(o.noise_seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                for v in trace.iter_mut() {
                    let n: f64 = StandardNormal.sample(&mut rng);
                    *v += (sigma * n) as f32;
                }
            });
        }
        if let Some(tgc) = o.analog_tgc {
            let c = self.medium.c_m_s();
            let gains: Vec<f32> = (0..n_s)
                .map(|k| {
                    let depth_cm = (c * self.sampling.time_s(k) / 2.0).max(0.0) * 100.0;
                    10f64.powf((tgc.db_per_cm * depth_cm).min(tgc.max_db) / 20.0) as f32
                })
                .collect();
            slice
                .par_chunks_mut(n_s)
                .for_each(|trace| trace.iter_mut().zip(&gains).for_each(|(v, g)| *v *= g));
        }
        if let Some(bits) = o.adc_bits {
            let full = slice.par_iter().map(|v| v.abs()).reduce(|| 0.0, f32::max);
            if full > 0.0 {
                let levels = ((1u64 << (bits - 1)) - 1) as f32;
                let lsb = full / levels;
                slice.par_iter_mut().for_each(|v| *v = (*v / lsb).round() * lsb);
            }
        }
    }
}

/// The noise's RMS is summed over this many chunks of the record.
const NOISE_CHUNKS: usize = 64;

/// Refuses RF with a sample that is not finite: echoes beyond `f32`'s range (huge amplitudes or
/// apodization weights piled up, amplified by the analog TGC or drowned in noise of a negative
/// SNR) give a clear error instead of infinities.
fn check_finite(rf: &[f32]) -> Result<()> {
    match rf.iter().find(|v| !v.is_finite()) {
        None => Ok(()),
        Some(v) => Err(Error::invalid(
            "rf",
            "finite samples: echoes within f32's range (scatterer amplitudes, apodization weights, \
             analog gain and noise together too large)",
            v,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{ChannelMode, Probe};

    fn small() -> (Aperture, Sequence, Pulse, Sampling) {
        let probe = Probe::linear(16, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
        let ap = Aperture::full(&probe, None).unwrap();
        let seq = Sequence::plane_waves(&ap, &[0.0], 1540.0).unwrap();
        let pulse = Pulse::new(5e6, 0.8, 1.0).unwrap();
        let s = Sampling::for_depth(20e6, 0.02, &seq, &pulse).unwrap();
        (ap, seq, pulse, s)
    }

    #[test]
    fn empty_phantom_gives_zeros_and_errors_are_typed() {
        let (ap, seq, pulse, s) = small();
        let sim = Simulator::from_parts(&ap, &seq, Medium::lossless(), pulse, s).unwrap();
        let rf = sim.run(&Phantom::default()).unwrap();
        assert!(rf.data().iter().all(|v| *v == 0.0));
        assert!(matches!(
            Simulator::from_parts(
                &ap,
                &seq,
                Medium::lossless(),
                pulse,
                Sampling::new(6e6, 0.0, 100).unwrap()
            ),
            Err(Error::BelowNyquist { .. })
        ));
        assert!(matches!(
            Sampling::for_depth(20e6, 0.5, &seq, &pulse),
            Err(Error::DepthOutOfRange { .. })
        ));
        let big = SimOptions {
            memory_cap_bytes: 1000,
            ..SimOptions::default()
        };
        assert!(matches!(
            sim.clone().with_options(big).unwrap().run(&Phantom::default()),
            Err(Error::TooLarge { .. })
        ));
        let bad = SimOptions {
            adc_bits: Some(40),
            ..SimOptions::default()
        };
        assert!(sim.clone().with_options(bad).is_err());
        let other = Aperture::full(&Probe::linear(8, 3e-4, 2.7e-4, 5e-3, 1).unwrap(), None).unwrap();
        assert!(Simulator::from_parts(&other, &seq, Medium::lossless(), pulse, s).is_err());
        let probe2 = Probe::cmut_9000();
        let ap2 = Aperture::columns(&probe2, 0..4, ChannelMode::Elements).unwrap();
        assert!(sim.with_rx_aperture(&ap2).is_err());
    }

    #[test]
    fn adc_quantizes_and_noise_is_seeded() {
        let (ap, seq, pulse, s) = small();
        let ph = Phantom::points(&[[0.0, 0.0, 0.01]]).unwrap();
        let o = SimOptions {
            adc_bits: Some(4),
            noise_snr_db: Some(20.0),
            noise_seed: 5,
            ..SimOptions::default()
        };
        let sim = Simulator::from_parts(&ap, &seq, Medium::lossless(), pulse, s)
            .unwrap()
            .with_options(o)
            .unwrap();
        let a = sim.run(&ph).unwrap();
        let b = sim.run(&ph).unwrap();
        assert_eq!(a, b);
        let mut levels: Vec<i64> = a.data().iter().map(|v| (v * 1e6) as i64).collect();
        levels.sort();
        levels.dedup();
        assert!(levels.len() <= 15, "{} levels", levels.len());
    }
}
