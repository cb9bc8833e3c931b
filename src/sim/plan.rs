//! The sizes of a run, fixed before anything large is allocated — the fine time grid, the pulse
//! table, the scatterer blocks and every buffer — and the run's peak heap estimated from them.
//!
//! A run allocates exactly these sizes: the tap and wave buffers of a block are arenas sized by
//! bounds that no scatterer can exceed, and the per-thread scratch is a pool made up front. So the
//! estimate is the allocation, not a guess about the phantom, and it can be checked against the
//! memory cap before the run starts.

use super::Simulator;
use super::directivity::{Directivity, FitTable};
use super::scratch;
use super::taps::{Geometry, Split, TapArena, sub_elements};
use super::wave::{BROADBAND_BASES, PulseTable, WaveArena};
use crate::channel_data::MAX_DEPTH_M;
use crate::medium::{AttenuationRegion, Medium, db_cm_mhz_to_np_m_hz};
use crate::probe::Aperture;
use crate::pulse::SampleShape;
use crate::sequence::TxKind;

/// Most taps in one block's tap arena (4 MiB): bounds the arena and keeps a block's work in cache.
const BLOCK_TAPS: usize = 1 << 18;
/// Most fine-grid samples in one block's wave arena (16 MiB).
const BLOCK_WAVE_SAMPLES: usize = 1 << 22;
/// Most scatterers in one block.
const MAX_BLOCK: usize = 64;
/// Margin of a wave's length over its bound, fine samples (rounding of the bound and of `ceil`).
const WAVE_MARGIN: usize = 8;

/// `ceil(x)` as a count; a value beyond `usize` (or NaN) saturates, so that the estimate refuses it.
fn count(x: f64) -> usize {
    if x.is_nan() {
        usize::MAX
    } else {
        x.max(0.0).ceil() as usize
    }
}

/// `a · b` bytes, saturating.
fn mul(a: usize, b: usize) -> u128 {
    (a as u128).saturating_mul(b as u128)
}

/// The sizes of one aperture's part of a run.
#[derive(Debug, Clone, Copy)]
pub(super) struct ApertureSizes {
    /// Channels.
    pub(super) channels: usize,
    /// Sub-elements over all channels: the most taps a scatterer can have (one per sub-element on
    /// the element path; at most one bin per sub-element on the column path).
    pub(super) elements: usize,
    /// Most sub-elements in one sub-column (the column scratch).
    pub(super) max_column: usize,
}

impl ApertureSizes {
    fn new(ap: &Aperture, split: Split) -> ApertureSizes {
        let ch = ap.channels();
        ApertureSizes {
            channels: ch.len(),
            elements: ch
                .iter()
                .map(|c| split.count(c.elements.len()))
                .fold(0, usize::saturating_add),
            max_column: ch
                .iter()
                .map(|c| c.elements.len().saturating_mul(split.el))
                .max()
                .unwrap_or(0),
        }
    }
}

/// The sizes of a run. See the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub(super) struct RunPlan {
    /// Fine-grid factor, a power of two (1–16): the incident waves are built at `fs_fine = m · fs`.
    pub(super) m: usize,
    /// Rate of the fine grid, Hz.
    pub(super) fs_fine: f64,
    /// Attenuation the pulse table's paths are measured in, Np/(m·Hz) (see [`table_alpha`]).
    pub(super) table_alpha: f64,
    /// Longest equivalent path of the pulse table, metres (see [`table_l_max`]).
    pub(super) table_l_max: f64,
    /// Waveforms in the pulse table.
    pub(super) table_paths: usize,
    /// The pulse sampled at `fs_fine`.
    pub(super) shape: SampleShape,
    /// How the elements are split into sub-elements (one probe: the same for both apertures).
    pub(super) split: Split,
    pub(super) tx: ApertureSizes,
    pub(super) rx: ApertureSizes,
    /// Transmit and receive apertures are the same (one tap arena serves both).
    pub(super) same_apertures: bool,
    /// Fine samples of a wave slot: a bound on any incident wave (a multiple of `m`).
    pub(super) wave_stride: usize,
    /// Scatterers per block (before limiting to the phantom's size).
    pub(super) block: usize,
    /// Threads of the rayon pool the run is planned in (one scratch each).
    pub(super) threads: usize,
    /// Broadband directivity: three pulse tables, two waves per scatterer, a fit table.
    pub(super) broadband: bool,
    /// Sub-element width and height, wavelengths at fc (the fit table's range).
    pub(super) subelement_l: (f64, f64),
}

impl RunPlan {
    /// Plans a run of `sim` in the current rayon pool: pure arithmetic over the apertures and the
    /// sequence, no allocation.
    pub(super) fn new(sim: &Simulator) -> RunPlan {
        let fc = sim.pulse.fc_hz();
        let fs = sim.sampling.fs_hz();
        // A power of two, so that the receive splits fine-grid indices by shifts, not divisions.
        let m = ((16.0 * fc / fs).ceil() as usize).clamp(1, 16).next_power_of_two();
        let fs_fine = fs * m as f64;
        let c = sim.medium.c_m_s();
        let t_end = sim.sampling.time_s(sim.sampling.n_samples());
        let l_max = (c * (t_end - sim.sampling.t0_s())).clamp(1e-3, 2.0 * MAX_DEPTH_M * 2.0);
        let table_alpha = table_alpha(sim);
        let table_l_max = table_l_max(sim, l_max, table_alpha);
        let (table_paths, _) = PulseTable::paths(table_alpha, table_l_max);
        // The rate is in the pulse's range: fs ≥ the Nyquist rate > fc, and fs_fine ≤ 1e4·fc
        // (fs ≤ 1 GHz, fc ≥ 100 kHz, and fs_fine < 32·fc whenever m > 1). Were it not, the
        // saturated sizes would make the estimate refuse the run (and the table would fail).
        let shape = sim.pulse.sample_shape(fs_fine).unwrap_or(SampleShape {
            half: usize::MAX / 4,
            len: usize::MAX / 2,
            fft_len: usize::MAX / 2,
        });
        let split = Split::for_aperture(sim.options.subelements, &sim.tx, c / fc);
        let broadband = sim.options.directivity == Directivity::Broadband;
        let (sw, sh) = split.size();
        let waves = if broadband { 2 } else { 1 };
        let (tx, rx) = (ApertureSizes::new(&sim.tx, split), ApertureSizes::new(&sim.rx, split));
        let wave_stride = wave_stride(sim, split, fs_fine, m, shape.half);
        let threads = rayon::current_num_threads().max(1);
        let by_taps = BLOCK_TAPS / tx.elements.max(rx.elements).max(1);
        let by_waves = BLOCK_WAVE_SAMPLES / wave_stride.saturating_mul(waves).max(1);
        // At least two scatterers per thread, so that a block's waves keep every thread busy.
        let block = by_taps.min(by_waves).max(2 * threads).clamp(1, MAX_BLOCK);
        RunPlan {
            m,
            fs_fine,
            table_alpha,
            table_l_max,
            table_paths,
            shape,
            split,
            tx,
            rx,
            same_apertures: sim.tx == sim.rx,
            wave_stride,
            block,
            threads,
            broadband,
            subelement_l: (sw * fc / c, sh * fc / c),
        }
    }

    /// Sets of waveforms in the pulse table.
    pub(super) fn table_bases(&self) -> usize {
        if self.broadband { BROADBAND_BASES } else { 1 }
    }

    /// Waves per scatterer in the wave arena.
    pub(super) fn waves(&self) -> usize {
        if self.broadband { 2 } else { 1 }
    }

    /// Scatterers per block for a phantom of `n` scatterers.
    pub(super) fn block_for(&self, n: usize) -> usize {
        self.block.min(n).max(1)
    }

    /// Scratch sets a run makes: one per thread, at most one per scatterer of a block.
    pub(super) fn scratch_sets(&self, n: usize) -> usize {
        self.threads.min(self.block_for(n))
    }

    /// Sizes of one scratch set.
    pub(super) fn scratch_sizes(&self) -> scratch::Sizes {
        scratch::Sizes {
            column: self.tx.max_column.max(self.rx.max_column),
            wave: self.wave_stride,
            pulse: self.shape.len,
            broadband: self.broadband,
            fit_rows: if self.broadband {
                FitTable::side(self.subelement_l.1).0
            } else {
                0
            },
        }
    }

    /// Estimated peak heap of a run of `sim` over a phantom of `phantom_len` scatterers, bytes:
    /// the largest of its three phases (building the pulse table; accumulating the echoes;
    /// post-processing and describing the record).
    pub(super) fn bytes(&self, sim: &Simulator, phantom_len: usize) -> u128 {
        // The run's copy of the attenuation map.
        let map = mul(sim.attenuation.regions().len(), size_of::<AttenuationRegion>());
        let fit = if self.broadband {
            FitTable::bytes(self.subelement_l.0, self.subelement_l.1)
        } else {
            0
        };
        let geometry = Geometry::bytes(&sim.tx, self.split)
            .saturating_add(Geometry::bytes(&sim.rx, self.split))
            .saturating_add(map)
            .saturating_add(fit);
        let table = PulseTable::bytes(self.table_bases(), self.table_paths, self.shape.len);
        let rf = sim.output_bytes();
        let build = geometry.saturating_add(table).saturating_add(self.shape.synth_bytes());
        let accumulate = if phantom_len == 0 {
            0
        } else {
            let block = self.block_for(phantom_len);
            let taps =
                TapArena::bytes(block, self.tx.elements, self.tx.channels).saturating_add(if self.same_apertures {
                    0
                } else {
                    TapArena::bytes(block, self.rx.elements, self.rx.channels)
                });
            let scratch = scratch::Pool::bytes(self.scratch_sets(phantom_len), self.scratch_sizes());
            // The scatterers' order (u32 indices) and the block's references.
            mul(phantom_len, 4)
                .saturating_add(mul(block, size_of::<&crate::phantom::Scatterer>()))
                .saturating_add(taps)
                .saturating_add(WaveArena::bytes(block, self.wave_stride, self.m, self.waves()))
                .saturating_add(scratch)
        };
        let run = geometry
            .saturating_add(table)
            .saturating_add(rf)
            .saturating_add(accumulate);
        let finish = rf.saturating_add(post_bytes(sim)).saturating_add(metadata_bytes(sim));
        build.max(run).max(finish)
    }
}

/// The attenuation the pulse table is tabulated in, Np/(m·Hz): its waveform for the equivalent
/// path `L` carries `exp(−α_t·|f|·L)`, and an echo whose path integrates to `∫α ds` takes
/// `L = 2·∫α ds / α_t`. A homogeneous medium uses its own attenuation, so `L` is the geometric round
/// trip. With a map it is the medium's, but at least soft tissue's 0.5 dB/(cm·MHz): the table then
/// steps by the loss of 0.25 mm of soft tissue (or more) even in a lossless medium, and bone
/// regions lengthen it by their excess loss only.
pub(super) fn table_alpha(sim: &Simulator) -> f64 {
    let a = sim.medium.alpha_np_per_m_hz();
    let map_attenuates = sim
        .attenuation
        .regions()
        .iter()
        .any(|r| r.attenuation_db_cm_mhz() > 0.0);
    if sim.attenuation.is_empty() || !map_attenuates {
        a
    } else {
        a.max(Medium::soft_tissue().alpha_np_per_m_hz())
    }
}

/// The longest equivalent path the table needs for round trips up to `l_max` (metres): the
/// medium's part `2·α_m·r0 ≤ α_m·l_max`, plus each leg's excess over the map's regions, at most
/// `Σ max(0, α_i − α_m)·min(chord_i, l_max)` (a point lies in one region's chord; a leg's ray is no
/// longer than the record's path), all of it never more than `α_max·l_max` per leg.
fn table_l_max(sim: &Simulator, l_max: f64, table_alpha: f64) -> f64 {
    if sim.attenuation.is_empty() || table_alpha <= 0.0 {
        return l_max;
    }
    let med = sim.medium.attenuation_db_cm_mhz();
    let (mut excess, mut max) = (0.0, med);
    for r in sim.attenuation.regions() {
        let a = r.attenuation_db_cm_mhz();
        excess += (a - med).max(0.0) * r.max_chord_m().min(l_max);
        max = max.max(a);
    }
    let db = (med * l_max + 2.0 * excess.min(max * l_max)).min(2.0 * max * l_max);
    (db_cm_mhz_to_np_m_hz(db) / table_alpha).max(1e-3)
}

/// A bound on the fine samples of any incident wave of `sim`'s sequence (rounded up to a
/// multiple of `m`). A wave spans the arrivals `d_ch + τ` of every tap of every active channel:
/// the channels' delays spread by at most the event's own spread, and a tap's delay `τ` lies
/// within half a period of some sub-element's `r_e / c − advance_e` (exactly on the element path;
/// the column path moves a bin's impulse by its phase, at most half a period), whose spread over
/// the sub-elements is at most their bounding box's diagonal over `c` plus the spread of the
/// advances. The wave adds the pulse (`2·half + 1`) and a guard of `half + 1` on each side.
fn wave_stride(sim: &Simulator, split: Split, fs_fine: f64, m: usize, half: usize) -> usize {
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    let (mut adv_lo, mut adv_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for ch in sim.tx.channels() {
        for j in 0..split.az {
            for (q, a) in sub_elements(&sim.tx, split, ch, j) {
                for k in 0..3 {
                    lo[k] = lo[k].min(q[k]);
                    hi[k] = hi[k].max(q[k]);
                }
                adv_lo = adv_lo.min(a);
                adv_hi = adv_hi.max(a);
            }
        }
    }
    let diagonal = (0..3).map(|k| (hi[k] - lo[k]).powi(2)).sum::<f64>().sqrt();
    let delay_spread = sim
        .sequence
        .events()
        .iter()
        .map(|ev| {
            let active = || ev.delays_s().iter().zip(ev.apod()).filter(|(_, w)| **w != 0.0);
            let first = active().fold(f64::INFINITY, |m, (d, _)| m.min(*d));
            let last = active().fold(f64::NEG_INFINITY, |m, (d, _)| m.max(*d));
            last - first
        })
        .fold(0.0f64, f64::max);
    let span_s = delay_spread + diagonal / sim.medium.c_m_s() + (adv_hi - adv_lo) + 1.0 / sim.pulse.fc_hz();
    let n = count(span_s * fs_fine)
        .saturating_add(half.saturating_mul(3))
        .saturating_add(WAVE_MARGIN);
    n.div_ceil(m).saturating_mul(m)
}

/// Heap of the post-processing: the analog TGC's gains, the noise's per-chunk sums.
fn post_bytes(sim: &Simulator) -> u128 {
    let tgc = if sim.options.analog_tgc.is_some() {
        mul(sim.sampling.n_samples(), 4)
    } else {
        0
    };
    let noise = if sim.options.noise_snr_db.is_some() {
        mul(super::NOISE_CHUNKS, 8)
    } else {
        0
    };
    tgc.max(noise)
}

/// Heap of the record's description: a copy of the sequence, and the receive channels' positions
/// and normals (three arrays of 24 B per channel while they are checked).
fn metadata_bytes(sim: &Simulator) -> u128 {
    let events = sim.sequence.events();
    let per_event: u128 = events
        .iter()
        .map(|ev| {
            let n = ev.delays_s().len();
            let positions = if ev.kind() == TxKind::Explicit { 24 * n } else { 0 };
            mul(n, 12).saturating_add(positions as u128)
        })
        .fold(0u128, u128::saturating_add);
    mul(events.len(), size_of::<crate::sequence::TxEvent>())
        .saturating_add(per_event)
        .saturating_add(mul(sim.rx.n_channels(), 3 * 24))
}
