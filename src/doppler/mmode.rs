//! M-mode: one line fired again and again, shown as depth against time.
//!
//! The line's complex samples of each firing (a one-line grid beamformed with an
//! `EnsembleBeamformer`, or any line of an ensemble's stack) are detected (`|IQ|`), log-compressed
//! over a dynamic range and written as one column of a sweeping display: columns fill from left to
//! right, and when the display is full the sweep starts again at the left, overwriting the oldest
//! column, with a dark erase bar just ahead of the newest one, as on a scanner. The display's axes
//! are depth (rows, from the line's first sample) and time (columns, one per firing).

use crate::error::{Error, Result, plausible};
use crate::frame::MAX_RASTER_SIDE_PX;
use ndarray::{Array2, ArrayView1, ArrayView3, ArrayViewMut2, Axis};
use num_complex::Complex32;

/// Columns the erase bar blanks ahead of the newest column.
pub const ERASE_BAR_COLUMNS: usize = 4;

/// A sweeping M-mode display (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct MModeSweep {
    envelope: Array2<f32>,
    next: usize,
    filled: usize,
    dynamic_range_db: f64,
}

impl MModeSweep {
    /// A display of `n_depths` rows and `n_columns` columns (each 2..=`MAX_RASTER_SIDE_PX`),
    /// mapping `dynamic_range_db` (1–120 dB) below the brightest sample shown to black.
    pub fn new(n_depths: usize, n_columns: usize, dynamic_range_db: f64) -> Result<MModeSweep> {
        for (name, n) in [("n_depths", n_depths), ("n_columns", n_columns)] {
            if !(2..=MAX_RASTER_SIDE_PX).contains(&n) {
                return Err(Error::invalid(name, format!("2..={MAX_RASTER_SIDE_PX}"), n));
            }
        }
        plausible("dynamic_range_db", dynamic_range_db, 1.0, 120.0, "dB")?;
        Ok(MModeSweep {
            envelope: Array2::zeros((n_depths, n_columns)),
            next: 0,
            filled: 0,
            dynamic_range_db,
        })
    }

    /// Adds one firing's line (`n_depths` complex samples). Errors: another length (`line`).
    /// Allocates nothing.
    pub fn push(&mut self, line: ArrayView1<'_, Complex32>) -> Result<()> {
        if line.len() != self.envelope.nrows() {
            return Err(Error::shape(
                "line",
                format!("{} samples", self.envelope.nrows()),
                line.len().to_string(),
            ));
        }
        let mut col = self.envelope.column_mut(self.next);
        for (o, v) in col.iter_mut().zip(line.iter()) {
            *o = v.norm();
        }
        self.next = (self.next + 1) % self.envelope.ncols();
        self.filled = (self.filled + 1).min(self.envelope.ncols());
        Ok(())
    }

    /// Adds line `line` of every image of an ensemble stack `[slow_time, lines, depths]`, in
    /// slow-time order. Errors: a line beyond the stack, or depths of another count.
    pub fn push_stack(&mut self, stack: ArrayView3<'_, Complex32>, line: usize) -> Result<()> {
        if line >= stack.len_of(Axis(1)) {
            return Err(Error::invalid(
                "line",
                format!("a line below {}", stack.len_of(Axis(1))),
                line,
            ));
        }
        for img in stack.outer_iter() {
            self.push(img.row(line))?;
        }
        Ok(())
    }

    /// The column the next firing goes to.
    pub fn cursor(&self) -> usize {
        self.next
    }

    /// The detected samples `[depth, column]` (zero where no firing has been written yet).
    pub fn envelope(&self) -> &Array2<f32> {
        &self.envelope
    }

    /// The envelope in time order: the `filled` columns from the oldest to the newest,
    /// `[depth, firing]` (for measurements over time). Cost: one array of that size.
    pub fn in_time_order(&self) -> Array2<f32> {
        let (n, w) = (self.filled, self.envelope.ncols());
        let first = (self.next + w - n) % w;
        Array2::from_shape_fn((self.envelope.nrows(), n), |(d, k)| self.envelope[[d, (first + k) % w]])
    }

    /// The grey image `[depth, column]`: 0 dB at the brightest sample on display, black at
    /// −`dynamic_range_db`, and [`ERASE_BAR_COLUMNS`] black columns ahead of the cursor once the
    /// sweep has wrapped. Cost: one `u8` image (see [`image_into`](Self::image_into)).
    pub fn image(&self) -> Array2<u8> {
        let mut out = Array2::zeros(self.envelope.dim());
        self.write_image(out.view_mut());
        out
    }

    /// [`image`](Self::image) into `out` `[depth, column]`, allocating nothing. Errors: `out` of
    /// another shape.
    pub fn image_into(&self, out: ArrayViewMut2<'_, u8>) -> Result<()> {
        if out.dim() != self.envelope.dim() {
            let (h, w) = self.envelope.dim();
            return Err(Error::shape(
                "out",
                format!("{h}×{w} (depths × columns)"),
                format!("{}×{}", out.nrows(), out.ncols()),
            ));
        }
        self.write_image(out);
        Ok(())
    }

    fn write_image(&self, mut out: ArrayViewMut2<'_, u8>) {
        let max = self.envelope.iter().fold(0.0f32, |m, &v| if v > m { v } else { m });
        let dr = self.dynamic_range_db as f32;
        let w = self.envelope.ncols();
        ndarray::Zip::from(&mut out).and(&self.envelope).for_each(|o, &v| {
            *o = if max <= 0.0 || v <= 0.0 {
                0
            } else {
                let db = 20.0 * (v / max).log10();
                (255.0 * (db + dr) / dr).clamp(0.0, 255.0).round() as u8
            };
        });
        if self.filled == w {
            for c in 0..ERASE_BAR_COLUMNS.min(w - 1) {
                out.column_mut((self.next + c) % w).fill(0);
            }
        }
    }

    /// The dynamic range shown, dB.
    pub fn dynamic_range_db(&self) -> f64 {
        self.dynamic_range_db
    }

    /// A new dynamic range (1–120 dB) for the next [`image`](Self::image); the kept columns are
    /// re-rendered with it. Errors: out of range (`dynamic_range_db`).
    pub fn set_dynamic_range_db(&mut self, dynamic_range_db: f64) -> Result<()> {
        self.dynamic_range_db = plausible("dynamic_range_db", dynamic_range_db, 1.0, 120.0, "dB")?;
        Ok(())
    }

    /// Firings on display (at most the number of columns).
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// Empties the display: the next firing goes to the first column.
    pub fn clear(&mut self) {
        self.envelope.fill(0.0);
        self.next = 0;
        self.filled = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    #[test]
    fn the_sweep_wraps_and_keeps_time_order() {
        let mut m = MModeSweep::new(4, 6, 40.0).unwrap();
        for k in 0..9 {
            m.push(Array1::from_elem(4, Complex32::new(k as f32 + 1.0, 0.0)).view())
                .unwrap();
        }
        assert_eq!(m.cursor(), 3);
        let t = m.in_time_order();
        let firsts: Vec<f32> = t.row(0).to_vec();
        assert_eq!(firsts, vec![4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        let img = m.image();
        // The newest column (9) is the brightest; the erase bar blanks 3, 4, 5, 0 (wrapping).
        assert_eq!(img[[0, 2]], 255);
        for c in [3, 4, 5, 0] {
            assert_eq!(img[[0, c]], 0, "column {c}");
        }
        assert!(img[[0, 1]] > 200 && img[[0, 1]] < 255);
        assert_eq!(m.push(Array1::zeros(3).view()).unwrap_err().parameter(), Some("line"));
        assert_eq!(MModeSweep::new(1, 6, 40.0).unwrap_err().parameter(), Some("n_depths"));
        assert_eq!(
            MModeSweep::new(4, 6, f64::NAN).unwrap_err().parameter(),
            Some("dynamic_range_db")
        );
    }
}
