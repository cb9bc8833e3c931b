//! Planning: from a record's [`Metadata`], a [`Grid`] and a [`BeamformConfig`] to the plain arrays
//! the kernels read. Each step is a function of its own: validation, the plan's units, the
//! channel arrays, the pixel arrays, the transmit models, the tile shape, and the memory estimate
//! that is checked before anything large is allocated.

use super::apodization::window_code;
use super::config::{BeamformConfig, Interpolation, Kernel};
use super::kernels::{INTERP_CUBIC, INTERP_LINEAR, INTERP_NEAREST, KernelParams};
use super::tile::{
    BLOCK, ChannelArrays, LANES, MIN_TILE, TABLE, TILE_BUF_BYTES, TILE_LINES, TILE_MAX, TileGeometry, TilePool, min_max,
};
use super::tx_model::{TxModel, Units};
use super::{Beamformer, MAX_CF_TRANSMITS, MAX_DISTANCE_M};
use crate::acquisition::SOUND_SPEED_RANGE_M_S;
use crate::channel_data::Metadata;
use crate::error::{Error, Result, check_size, in_range};
use crate::grid::{Grid, MAX_PIXELS};
use crate::sequence::TxKind;

/// The validated options that shape a plan.
struct Options {
    kernel: Kernel,
    tx_weights: Vec<f32>,
    /// The speed of sound the plan assumes, m/s.
    c: f64,
}

fn validate(meta: &Metadata, config: &BeamformConfig) -> Result<Options> {
    let n_tx = meta.sequence().len();
    let kernel = Kernel::resolve(config.kernel)?;
    let tx_weights = match &config.tx_weights {
        None => vec![1.0f32; n_tx],
        Some(w) => {
            if w.len() != n_tx {
                return Err(Error::shape(
                    "tx_weights",
                    format!("{n_tx} weights (one per transmit)"),
                    w.len().to_string(),
                ));
            }
            if let Some(bad) = w.iter().find(|v| !v.is_finite()) {
                return Err(Error::invalid("tx_weights", "finite weights", bad));
            }
            w.clone()
        }
    };
    if let Some(f) = config.f_number {
        in_range("f_number", f, 1e-3, 1e3)?;
    }
    if let Some(a) = config.acceptance_angle_rad
        && !(a.is_finite() && (1e-3..=std::f64::consts::FRAC_PI_2).contains(&a))
    {
        return Err(Error::invalid(
            "acceptance_angle_rad",
            "an angle in [0.001, pi/2] rad",
            a,
        ));
    }
    in_range("focal_zone_wavelengths", config.focal_zone_wavelengths, 1e-3, 1e3)?;
    let c = match config.sound_speed_m_s {
        Some(c) => in_range("sound_speed_m_s", c, SOUND_SPEED_RANGE_M_S.0, SOUND_SPEED_RANGE_M_S.1)?,
        None => meta.c_m_s(),
    };
    if config.coherence_factor && n_tx > MAX_CF_TRANSMITS {
        return Err(Error::invalid(
            "coherence_factor",
            format!("at most {MAX_CF_TRANSMITS} transmits with a coherence factor"),
            format!("{n_tx} transmits"),
        ));
    }
    Ok(Options { kernel, tx_weights, c })
}

fn dist3(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The plan's origin (the centroid of the receive channels) and sample units.
fn units(meta: &Metadata, c: f64) -> Units {
    let pos = meta.channel_positions_m();
    let n = pos.len() as f64;
    let mut origin = [0.0f64; 3];
    for p in pos {
        for k in 0..3 {
            origin[k] += p[k] / n;
        }
    }
    Units {
        origin,
        k_s: meta.fs_hz() / c,
        fs: meta.fs_hz(),
        t0: meta.t0_s(),
        c,
    }
}

/// Errors if `p` lies farther than [`MAX_DISTANCE_M`] from the plan's origin.
fn near(name: &'static str, p: [f64; 3], u: &Units) -> Result<()> {
    if dist3(p, u.origin) <= MAX_DISTANCE_M {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!("positions within {MAX_DISTANCE_M} m of the receive channels' centroid"),
            format!("{p:?}"),
        ))
    }
}

/// The receive channels in sample units.
fn channel_arrays(meta: &Metadata, u: &Units) -> Result<ChannelArrays> {
    let mut ch = ChannelArrays::default();
    for (p, n) in meta.channel_positions_m().iter().zip(meta.channel_normals()) {
        near("rx", *p, u)?;
        let q = u.rel(*p);
        ch.x.push(q[0] as f32);
        ch.y.push(q[1] as f32);
        ch.z.push(q[2] as f32);
        // Unit normals (the metadata normalises them).
        ch.nx.push(n[0] as f32);
        ch.ny.push(n[1] as f32);
        ch.nz.push(n[2] as f32);
    }
    Ok(ch)
}

/// Pixel positions in sample units and `(2 F# / z)²`, in image order, and whether every pixel lies
/// in the plane `y = 0`.
struct Pixels {
    px: Vec<f32>,
    py: Vec<f32>,
    pz: Vec<f32>,
    ih2: Vec<f32>,
    planar: bool,
}

fn pixel_arrays(grid: &Grid, u: &Units, f_number: Option<f64>) -> Result<Pixels> {
    let (n_lines, n_depths) = grid.shape();
    let n_px = n_lines * n_depths;
    let mut p = Pixels {
        px: Vec::with_capacity(n_px),
        py: Vec::with_capacity(n_px),
        pz: Vec::with_capacity(n_px),
        ih2: Vec::with_capacity(n_px),
        planar: true,
    };
    for l in 0..n_lines {
        for kd in 0..n_depths {
            let pos = grid.position(l, kd);
            near("grid", pos, u)?;
            let q = u.rel(pos);
            p.px.push(q[0] as f32);
            p.py.push(q[1] as f32);
            p.pz.push(q[2] as f32);
            p.planar &= q[1] as f32 == 0.0;
            p.ih2.push(match f_number {
                None => 0.0,
                Some(f) => {
                    // Depth below the probe face (z = 0), in samples; floored to keep it finite.
                    let z = (pos[2] * u.k_s).max(1e-3);
                    ((2.0 * f / z) * (2.0 * f / z)) as f32
                }
            });
        }
    }
    Ok(p)
}

/// True when the two-way delays of 8 consecutive depths of every line span less than 15 samples
/// (twice the largest distance between depths `k` and `k + 7`), so that the SIMD kernels may read
/// a vector's taps from one contiguous window. Computed from the grid, before anything is
/// allocated, with the same `f32` positions the pixel arrays hold.
fn windowed(grid: &Grid, u: &Units) -> bool {
    let (n_lines, n_depths) = grid.shape();
    let q = |l, k| u.rel(grid.position(l, k)).map(|v| v as f32);
    let mut span = 0.0f32;
    for l in 0..n_lines {
        for k in 0..n_depths.saturating_sub(LANES - 1) {
            let (a, b) = (q(l, k), q(l, k + LANES - 1));
            let d = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2) + (b[2] - a[2]).powi(2)).sqrt();
            span = span.max(2.0 * d);
        }
    }
    span < 14.5
}

/// The tile shape `(lines, depths)` and the transmits per tile pass.
///
/// Full tiles (so that many lines share each channel's trace windows in cache) with the transmits
/// in chunks whose tables fit `TABLE` entries; with a coherence factor, tiles small enough for all
/// transmits in one pass; windowed RF plans shrink their tiles (down to `MIN_TILE` pixels) so that
/// all transmits share each vector's receive geometry in one pass (IQ keeps full tiles).
fn tile_shape(n_depths: usize, n_tx: usize, coherence: bool, windowed_rf: bool) -> (usize, usize, usize) {
    let n_tx = n_tx.max(1);
    let cap = if coherence {
        ((TABLE / n_tx).clamp(LANES, TILE_MAX) / LANES) * LANES
    } else if windowed_rf {
        ((TABLE / n_tx).clamp(MIN_TILE, TILE_MAX) / LANES) * LANES
    } else {
        TILE_MAX
    };
    let tile_depths = cap.min(n_depths.div_ceil(LANES) * LANES).clamp(LANES, BLOCK);
    let tile_lines = (cap / tile_depths).clamp(1, TILE_LINES);
    // Equal chunks of at most `TABLE / tile pixels` transmits.
    let most = (TABLE / (tile_lines * tile_depths)).clamp(1, n_tx);
    let tx_chunk = n_tx.div_ceil(n_tx.div_ceil(most));
    (tile_lines, tile_depths, tx_chunk)
}

/// Bytes a plan allocates at its peak: the image-order pixel arrays and explicit tables while they
/// are rearranged into the tile-major ones, the tile pool, and the small per-channel and
/// per-transmit arrays.
pub(super) fn memory_estimate(
    n_px: usize,
    padded: usize,
    n_tables: usize,
    n_ch: usize,
    n_tx: usize,
    threads: usize,
) -> u128 {
    let (n_px, padded) = (n_px as u128, padded as u128);
    let pixel_arrays = (4 + n_tables as u128) * (n_px + padded) * 4;
    let bboxes = padded / LANES as u128 * 24 / 8 + 64;
    let channels = n_ch as u128 * (6 * 4 + 2 * 24);
    let sequence = n_tx as u128 * (n_ch as u128 * 12 + 128);
    let pool = threads as u128 * TILE_BUF_BYTES as u128;
    pixel_arrays + bboxes + channels + sequence + n_tx as u128 * 64 + pool
}

/// The transmit model of every event, and the per-pixel tables (image order) of the explicit
/// ones; `zone` is the focal-zone half-width in samples.
fn transmit_models(meta: &Metadata, grid: &Grid, u: &Units, zone: f64) -> Result<(Vec<TxModel>, Vec<Vec<f32>>)> {
    let (n_lines, n_depths) = grid.shape();
    let events = meta.sequence().events();
    let mut models = Vec::with_capacity(events.len());
    let mut tables = Vec::new();
    for ev in events {
        match ev.kind() {
            TxKind::Diverging { virtual_source_m: p } => near("virtual_source_m", p, u)?,
            TxKind::Focused { focus_m: p } => near("focus_m", p, u)?,
            _ => {}
        }
        let m = TxModel::of(ev, u, zone, tables.len());
        if let TxModel::Table { .. } = m {
            let pixels = (0..n_lines * n_depths).map(|i| grid.position(i / n_depths, i % n_depths));
            tables.push(TxModel::table(ev, u, pixels));
        }
        models.push(m);
    }
    Ok((models, tables))
}

/// The plain values the kernels read: interpolation, window, acceptance, IQ rotation.
fn kernel_params(meta: &Metadata, config: &BeamformConfig, u: &Units, windowed: bool) -> Result<KernelParams> {
    let (window, tukey_flat, tukey_inv_alpha) = window_code(config.f_number, config.window)?;
    let (phase0_turns, turns_per_sample) = match meta.demod_hz() {
        None => (0.0, 0.0),
        Some(fd) => {
            let ph = fd * u.t0;
            ((ph - ph.round()) as f32, (fd / u.fs) as f32)
        }
    };
    Ok(KernelParams {
        n_samples: meta.n_samples(),
        interp: match config.interpolation {
            Interpolation::Nearest => INTERP_NEAREST,
            Interpolation::Linear => INTERP_LINEAR,
            Interpolation::Cubic => INTERP_CUBIC,
        },
        window,
        tukey_flat,
        tukey_inv_alpha,
        cos_accept: config.acceptance_angle_rad.map_or(-2.0, |a| a.cos() as f32),
        phase0_turns,
        turns_per_sample,
        windowed,
    })
}

impl Beamformer {
    /// Plans delay-and-sum of data described by `meta` (RF, or IQ when `meta.demod_hz()` is set)
    /// onto `grid`: its receive channels, sequence, sampling and centre frequency.
    ///
    /// Errors: invalid configuration values (each naming its field); a kernel the CPU lacks
    /// (`Unsupported`); a grid or channel farther than [`MAX_DISTANCE_M`] from the channels'
    /// centroid; a grid whose every pixel's echoes fall outside the recorded time window
    /// (`InvalidParameter` on `grid`); memory above `config.memory_cap_bytes` (`TooLarge`, before
    /// anything large is allocated).
    ///
    /// Cost: one pass over the pixels and, for explicit-delay transmits, one over pixels × active
    /// channels per such transmit; memory about `32 B` per pixel (see
    /// [`Beamformer::memory_bytes`]).
    pub fn new(meta: &Metadata, grid: &Grid, config: BeamformConfig) -> Result<Beamformer> {
        let opts = validate(meta, &config)?;
        window_code(config.f_number, config.window)?;
        let u = units(meta, opts.c);
        let channels = channel_arrays(meta, &u)?;
        let (n_lines, n_depths) = grid.shape();
        let n_px = n_lines * n_depths;
        if n_px == 0 {
            return Err(Error::empty("grid", "at least one pixel"));
        }
        let n_tx = meta.sequence().len();
        let iq = meta.demod_hz().is_some();
        let windowed = windowed(grid, &u);
        let (tile_lines, tile_depths, tx_chunk) = tile_shape(n_depths, n_tx, config.coherence_factor, windowed && !iq);
        // Every line is padded to whole vectors and every tile to a full slot: at most 8 entries
        // per pixel for grids of fewer than 8 depths, so bound it by twice the largest grid.
        let padded = TileGeometry::len(n_lines, n_depths, tile_lines, tile_depths);
        if padded > 2 * MAX_PIXELS {
            return Err(Error::invalid(
                "grid",
                format!(
                    "at most {} pixels once each line is padded to whole {LANES}-pixel vectors and whole tiles",
                    2 * MAX_PIXELS
                ),
                format!("{padded} ({n_lines} lines × {n_depths} depths)"),
            ));
        }
        let n_tables = meta
            .sequence()
            .events()
            .iter()
            .filter(|e| e.kind() == TxKind::Explicit)
            .count();
        let threads = rayon::current_num_threads();
        let bytes = memory_estimate(n_px, padded, n_tables, channels.len(), n_tx, threads);
        check_size("beamformer plan", bytes, config.memory_cap_bytes)?;

        let pixels = pixel_arrays(grid, &u, config.f_number)?;
        let zone = config.focal_zone_wavelengths * u.fs / meta.fc_hz();
        let (tx_models, tables) = transmit_models(meta, grid, &u, zone)?;
        let params = kernel_params(meta, &config, &u, windowed)?;
        let planar = pixels.planar
            && (0..channels.len()).all(|i| {
                channels.y[i] == 0.0 && channels.nx[i] == 0.0 && channels.ny[i] == 0.0 && channels.nz[i] == 1.0
            });
        check_grid_in_record(&channels, &tx_models, &tables, &pixels, meta.n_samples())?;
        let geo = TileGeometry::new(
            [&pixels.px, &pixels.py, &pixels.pz, &pixels.ih2],
            &tables,
            n_lines,
            n_depths,
            tile_lines,
            tile_depths,
        );
        Ok(Beamformer {
            meta: meta.clone(),
            n_lines,
            n_depths,
            n_tx,
            channels,
            geo,
            tx_models,
            tx_weights: opts.tx_weights,
            params,
            planar,
            kernel: opts.kernel,
            coherence: config.coherence_factor,
            tile_lines,
            tile_depths,
            tx_chunk,
            pool: TilePool::new(threads),
            memory_bytes: bytes,
        })
    }
}

/// Errors if no pixel's echo window (earliest to latest arrival over the channels' bounding box,
/// any transmit) overlaps the record of `n_samples` samples.
fn check_grid_in_record(
    ch: &ChannelArrays,
    models: &[TxModel],
    tables: &[Vec<f32>],
    p: &Pixels,
    n_samples: usize,
) -> Result<()> {
    let (bx, by, bz) = (min_max(&ch.x), min_max(&ch.y), min_max(&ch.z));
    let span = |lo: f32, hi: f32, p: f32| -> (f32, f32) {
        let near = if p < lo {
            lo - p
        } else if p > hi {
            p - hi
        } else {
            0.0
        };
        (near, (p - lo).abs().max((p - hi).abs()))
    };
    let last = (n_samples - 1) as f32 + 3.0;
    let mut t = [0.0f32; BLOCK];
    for m in models {
        for start in (0..p.px.len()).step_by(BLOCK) {
            let end = (start + BLOCK).min(p.px.len());
            let n = end - start;
            match *m {
                TxModel::Table { index } => t[..n].copy_from_slice(&tables[index][start..end]),
                _ => m.times(&p.px[start..end], &p.py[start..end], &p.pz[start..end], &mut t[..n]),
            }
            for (i, &ti) in t[..n].iter().enumerate() {
                let (ax, bxm) = span(bx.0, bx.1, p.px[start + i]);
                let (ay, bym) = span(by.0, by.1, p.py[start + i]);
                let (az, bzm) = span(bz.0, bz.1, p.pz[start + i]);
                let early = ti + (ax * ax + ay * ay + az * az).sqrt();
                let late = ti + (bxm * bxm + bym * bym + bzm * bzm).sqrt();
                if late >= -3.0 && early <= last {
                    return Ok(());
                }
            }
        }
    }
    Err(Error::invalid(
        "grid",
        "a grid whose echoes fall at least partly inside the recorded time window",
        "every pixel's echoes outside the record",
    ))
}
