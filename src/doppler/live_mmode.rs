//! Live M-mode: firings of one line streamed in, a sweeping depth–time image out.
//!
//! An [`MModeImager`] is planned once from a channel-data description, the M-line (line `line` of
//! a Cartesian or sector grid, with all its depths), a beamforming configuration and the sweep's
//! width. Each [`push`](MModeImager::push) takes an ensemble of any number of frames (each frame
//! one firing of the M-line's sequence), demodulates and beamforms each frame on the line with one
//! plan (`EnsembleBeamformer` with a one-line grid), writes it as the next column of an
//! [`MModeSweep`] (detection, a sweep that wraps with an erase bar) and renders the grey image
//! `[depths, columns]`. The dynamic range changes live
//! ([`set_dynamic_range_db`](MModeImager::set_dynamic_range_db)): the kept columns are re-rendered.
//!
//! **Bounds and cost.** Nothing is allocated per push, whatever the ensemble's length: the
//! buffers are the beamformer's one-frame plan and stack (one line), the sweep's
//! `depths × columns` envelope and the image of the same size. A push costs the demodulation and
//! beamforming of each frame on one line, and one render of the image (`depths × columns`
//! logarithms).

use super::mmode::MModeSweep;
use super::pipeline::EnsembleBeamformer;
use crate::beamform::BeamformConfig;
use crate::channel_data::Metadata;
use crate::error::{Error, Result};
use crate::grid::Grid;
use crate::sim::ensemble::Ensemble;
use ndarray::{Array2, ArrayView2, Axis};

/// The live M-mode pipeline (see the [module docs](self)).
#[derive(Debug)]
pub struct MModeImager {
    beamformer: EnsembleBeamformer,
    meta: Metadata,
    sweep: MModeSweep,
    image: Array2<u8>,
    depths_m: Vec<f64>,
    firings: u64,
}

impl MModeImager {
    /// An imager for frames of RF described by `meta`, showing line `line` of `grid` on a sweep of
    /// `sweep_columns` firings (2..=`MAX_RASTER_SIDE_PX`) over `dynamic_range_db` (1–120 dB).
    ///
    /// Errors: a point-list grid (`grid`), a line beyond it (`line`), a line of fewer than 2 or more
    /// than `MAX_RASTER_SIDE_PX` depths (`n_depths`), the sweep's settings (`n_columns`,
    /// `dynamic_range_db`), and those of `EnsembleBeamformer::new`.
    pub fn new(
        meta: &Metadata,
        grid: &Grid,
        line: usize,
        beamform: BeamformConfig,
        sweep_columns: usize,
        dynamic_range_db: f64,
    ) -> Result<MModeImager> {
        let line_grid = grid.line_grid(line)?;
        let depths_m = line_grid.line_depths_m()?.to_vec();
        let sweep = MModeSweep::new(depths_m.len(), sweep_columns, dynamic_range_db)?;
        let beamformer = EnsembleBeamformer::new(meta, &line_grid, beamform, 1)?;
        Ok(MModeImager {
            image: Array2::zeros(sweep.envelope().dim()),
            beamformer,
            meta: meta.clone(),
            sweep,
            depths_m,
            firings: 0,
        })
    }

    /// Beamforms the M-line in every frame of `ensemble`, adds each as the sweep's next column
    /// and renders the image `[depths, columns]`. Errors: `ensemble` when its metadata are not the
    /// planned ones (nothing is taken), and those of the stages. Allocates nothing.
    pub fn push(&mut self, ensemble: &Ensemble) -> Result<ArrayView2<'_, u8>> {
        if ensemble.metadata() != &self.meta {
            return Err(Error::invalid(
                "ensemble",
                "frames described by the metadata this plan was made for",
                "other metadata",
            ));
        }
        for frame in ensemble.frames() {
            self.beamformer.process_frame_into(frame, 0)?;
            self.sweep.push(self.beamformer.stack().index_axis(Axis(0), 0).row(0))?;
            self.firings += 1;
        }
        self.sweep.image_into(self.image.view_mut())?;
        Ok(self.image.view())
    }

    /// A new dynamic range (1–120 dB); the image is re-rendered. Errors: out of range
    /// (`dynamic_range_db`).
    pub fn set_dynamic_range_db(&mut self, dynamic_range_db: f64) -> Result<()> {
        self.sweep.set_dynamic_range_db(dynamic_range_db)?;
        self.sweep.image_into(self.image.view_mut())
    }

    /// Empties the sweep.
    pub fn clear(&mut self) {
        self.sweep.clear();
        self.image.fill(0);
    }

    /// The image `[depths, columns]` of the last push or setting.
    pub fn image(&self) -> ArrayView2<'_, u8> {
        self.image.view()
    }

    /// The sweep (its envelope, cursor and time order).
    pub fn sweep(&self) -> &MModeSweep {
        &self.sweep
    }

    /// The depths of the image's rows, metres (along the line).
    pub fn depths_m(&self) -> &[f64] {
        &self.depths_m
    }

    /// Firings pushed since planning.
    pub fn firings(&self) -> u64 {
        self.firings
    }

    /// The one-line beamformer.
    pub fn beamformer(&self) -> &EnsembleBeamformer {
        &self.beamformer
    }
}
