//! Probe geometry and apertures.
//!
//! A [`Probe`] is a grid of `cols × rows` rectangular elements: `cols` along azimuth (x) and `rows`
//! along elevation (y). The 2D CMUT array is the default ([`Probe::cmut_9000`], 140 × 64 elements at
//! 208 µm pitch — the crate's documented assumption, `docs/physics.md#probe`); conventional 1D arrays are probes
//! with one row (or a few elevation sub-elements standing for a lens-focused element).
//! Element `i` of column `c`, row `r` has index `c * rows + r`, so a column's elements are contiguous.
//!
//! An [`Aperture`] chooses the active columns and rows and turns them into receive/transmit
//! *channels*:
//! * [`ChannelMode::Columns`]: each active column is one channel; its elements are summed after
//!   electronic elevation-focusing delays (an electronic lens with a fixed focal depth). The channel's
//!   reference point is the column centre on the elevation axis of the active rows.
//! * [`ChannelMode::Elements`]: every active element is its own channel (8,960 for the whole array).
//!
//! ```
//! use sonochip::probe::{Aperture, ChannelMode, Probe};
//! let probe = Probe::cmut_9000();
//! assert_eq!(probe.n_elements(), 8960);
//! let ap = Aperture::columns(&probe, 22..118, ChannelMode::Columns { elevation_focus_m: Some(0.06) }).unwrap();
//! assert_eq!(ap.n_channels(), 96);
//! ```

use crate::error::{Error, Result, count_at_least, positive};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// One transducer element: a rectangle on the probe face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Element {
    /// Centre of the element, metres.
    pub position_m: [f64; 3],
    /// Size along the element's azimuth direction `u`, metres.
    pub width_m: f64,
    /// Size along elevation (y), metres.
    pub height_m: f64,
    /// Outward unit normal (into the body).
    pub normal: [f64; 3],
}

impl Element {
    /// Unit vector along the element's width (azimuth), perpendicular to the normal and to y.
    pub fn azimuth_dir(&self) -> [f64; 3] {
        [self.normal[2], 0.0, -self.normal[0]]
    }
}

/// How the array's elements are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Layout {
    /// A flat array (2D grid or 1D linear/phased array).
    Flat,
    /// A convex array whose element centres lie on an arc of this radius in the x–z plane, the
    /// arc's apex at the origin and its centre at `(0, 0, -radius_m)`.
    Convex {
        /// Radius of curvature, metres.
        radius_m: f64,
    },
}

/// A transducer array. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    name: String,
    cols: usize,
    rows: usize,
    pitch_x_m: f64,
    pitch_y_m: f64,
    layout: Layout,
    elements: Vec<Element>,
}

/// Largest number of elements a probe may have.
pub const MAX_ELEMENTS: usize = 1 << 17;

/// Parameters of a rectangular grid of elements (flat or convex in azimuth).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArraySpec {
    /// Name shown in reports.
    pub name: String,
    /// Elements along azimuth.
    pub cols: usize,
    /// Elements along elevation (1 for a 1D array).
    pub rows: usize,
    /// Azimuth pitch, metres (arc length for convex arrays).
    pub pitch_x_m: f64,
    /// Elevation pitch, metres.
    pub pitch_y_m: f64,
    /// Element width (azimuth), metres; at most the pitch.
    pub width_m: f64,
    /// Element height (elevation), metres; at most the elevation pitch.
    pub height_m: f64,
    /// Flat or convex.
    pub layout: Layout,
}

impl ArraySpec {
    /// The default 2D CMUT grid (`docs/physics.md#probe`): 140 × 64 elements, 208 µm pitch both ways, 198 µm
    /// square elements (a 10 µm kerf is assumed).
    pub fn cmut_9000() -> ArraySpec {
        ArraySpec {
            name: "CMUT 140x64".into(),
            cols: 140,
            rows: 64,
            pitch_x_m: 208e-6,
            pitch_y_m: 208e-6,
            width_m: 198e-6,
            height_m: 198e-6,
            layout: Layout::Flat,
        }
    }
}

impl Probe {
    /// Builds a probe from a spec, validating every field.
    pub fn new(spec: ArraySpec) -> Result<Probe> {
        count_at_least("cols", spec.cols, 1)?;
        count_at_least("rows", spec.rows, 1)?;
        if spec.cols.saturating_mul(spec.rows) > MAX_ELEMENTS {
            return Err(Error::invalid(
                "cols * rows",
                format!("at most {MAX_ELEMENTS} elements"),
                spec.cols.saturating_mul(spec.rows),
            ));
        }
        positive("pitch_x_m", spec.pitch_x_m)?;
        positive("pitch_y_m", spec.pitch_y_m)?;
        positive("width_m", spec.width_m)?;
        positive("height_m", spec.height_m)?;
        if spec.width_m > spec.pitch_x_m * (1.0 + 1e-9) {
            return Err(Error::invalid(
                "width_m",
                format!("at most pitch_x_m = {}", spec.pitch_x_m),
                spec.width_m,
            ));
        }
        if spec.rows > 1 && spec.height_m > spec.pitch_y_m * (1.0 + 1e-9) {
            return Err(Error::invalid(
                "height_m",
                format!("at most pitch_y_m = {}", spec.pitch_y_m),
                spec.height_m,
            ));
        }
        if let Layout::Convex { radius_m } = spec.layout {
            positive("radius_m", radius_m)?;
            let half_arc = 0.5 * spec.pitch_x_m * (spec.cols - 1) as f64 / radius_m;
            if half_arc >= std::f64::consts::FRAC_PI_2 {
                return Err(Error::invalid(
                    "radius_m",
                    "a radius for which the array spans less than 180 degrees",
                    radius_m,
                ));
            }
        }
        let mut elements = Vec::with_capacity(spec.cols * spec.rows);
        for c in 0..spec.cols {
            let u = (c as f64 - 0.5 * (spec.cols - 1) as f64) * spec.pitch_x_m;
            let (x, z, normal) = match spec.layout {
                Layout::Flat => (u, 0.0, [0.0, 0.0, 1.0]),
                Layout::Convex { radius_m } => {
                    let phi = u / radius_m;
                    let (s, co) = phi.sin_cos();
                    (radius_m * s, radius_m * (co - 1.0), [s, 0.0, co])
                }
            };
            for r in 0..spec.rows {
                let y = (r as f64 - 0.5 * (spec.rows - 1) as f64) * spec.pitch_y_m;
                elements.push(Element {
                    position_m: [x, y, z],
                    width_m: spec.width_m,
                    height_m: spec.height_m,
                    normal,
                });
            }
        }
        Ok(Probe {
            name: spec.name,
            cols: spec.cols,
            rows: spec.rows,
            pitch_x_m: spec.pitch_x_m,
            pitch_y_m: spec.pitch_y_m,
            layout: spec.layout,
            elements,
        })
    }

    /// The default 2D CMUT array: 140 × 64 elements at 208 µm pitch (≈ 29.1 mm × 13.3 mm).
    pub fn cmut_9000() -> Probe {
        Probe::new(ArraySpec::cmut_9000()).expect("the default spec is valid")
    }

    /// A flat 1D linear (or phased) array of `n` elements: `pitch_m`, element `width_m`, element
    /// `height_m` (elevation). `elevation_subelements` > 1 splits each element in elevation so that
    /// an elevation lens can be modelled with [`ChannelMode::Columns`].
    pub fn linear(n: usize, pitch_m: f64, width_m: f64, height_m: f64, elevation_subelements: usize) -> Result<Probe> {
        count_at_least("elevation_subelements", elevation_subelements, 1)?;
        positive("height_m", height_m)?;
        let sub = height_m / elevation_subelements as f64;
        Probe::new(ArraySpec {
            name: format!("linear {n} x {:.3} mm", pitch_m * 1e3),
            cols: n,
            rows: elevation_subelements,
            pitch_x_m: pitch_m,
            pitch_y_m: sub,
            width_m,
            height_m: sub,
            layout: Layout::Flat,
        })
    }

    /// A phased array: a linear array whose pitch is small enough to steer (typically ≤ λ/2).
    pub fn phased(n: usize, pitch_m: f64, width_m: f64, height_m: f64) -> Result<Probe> {
        let mut p = Probe::linear(n, pitch_m, width_m, height_m, 1)?;
        p.name = format!("phased {n} x {:.3} mm", pitch_m * 1e3);
        Ok(p)
    }

    /// A convex 1D array of `n` elements at arc pitch `pitch_m` on a radius `radius_m`.
    pub fn convex(n: usize, pitch_m: f64, width_m: f64, height_m: f64, radius_m: f64) -> Result<Probe> {
        Probe::new(ArraySpec {
            name: format!("convex {n} x {:.3} mm, R {:.0} mm", pitch_m * 1e3, radius_m * 1e3),
            cols: n,
            rows: 1,
            pitch_x_m: pitch_m,
            pitch_y_m: height_m,
            width_m,
            height_m,
            layout: Layout::Convex { radius_m },
        })
    }

    /// The PICMUS L11-4v-like probe (`docs/physics.md#picmus-probe`): 128 elements, 0.30 mm pitch, 0.27 mm width, 5 mm
    /// height. With `elevation_subelements` > 1 and [`ChannelMode::Columns`] at 20 mm the elevation
    /// lens is modelled; with 1 the element is a plain 5 mm strip.
    pub fn picmus_l11_4v(elevation_subelements: usize) -> Result<Probe> {
        let mut p = Probe::linear(128, 0.3e-3, 0.27e-3, 5e-3, elevation_subelements)?;
        p.name = "L11-4v (PICMUS)".into();
        Ok(p)
    }

    /// Name shown in reports.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Number of columns (azimuth).
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Number of rows (elevation).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Azimuth pitch, metres.
    pub fn pitch_x_m(&self) -> f64 {
        self.pitch_x_m
    }
    /// Elevation pitch, metres.
    pub fn pitch_y_m(&self) -> f64 {
        self.pitch_y_m
    }
    /// Flat or convex.
    pub fn layout(&self) -> Layout {
        self.layout
    }
    /// All elements, index `col * rows + row`.
    pub fn elements(&self) -> &[Element] {
        &self.elements
    }
    /// Number of elements.
    pub fn n_elements(&self) -> usize {
        self.elements.len()
    }
    /// Element at column `col`, row `row` (panics when out of range).
    pub fn element(&self, col: usize, row: usize) -> &Element {
        &self.elements[col * self.rows + row]
    }
}

/// How active elements become channels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChannelMode {
    /// One channel per active column: its active rows summed after elevation-focusing delays for a
    /// focus at `elevation_focus_m` (None: summed without delays).
    Columns {
        /// Electronic elevation focal depth, metres.
        elevation_focus_m: Option<f64>,
    },
    /// Every active element is a channel.
    Elements,
}

/// One receive/transmit channel: a set of elements and their elevation-lens advances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// Element indices in the probe.
    pub elements: Vec<usize>,
    /// Lens advance of each element, seconds: on receive the channel is Σ s_e(t + advance_e); on
    /// transmit element e fires `advance_e` earlier than the channel's delay. Zero on the lens axis.
    pub advances_s: Vec<f64>,
    /// The channel's reference point (the point the beamformer treats as the channel), metres.
    pub position_m: [f64; 3],
    /// The channel's normal.
    pub normal: [f64; 3],
}

/// Speed of sound used for electronic elevation focusing (scanner convention), m/s.
pub const LENS_SOUND_SPEED_M_S: f64 = 1540.0;

/// Active elements grouped into channels. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aperture {
    probe: Probe,
    cols: Range<usize>,
    rows: Range<usize>,
    mode: ChannelMode,
    channels: Vec<Channel>,
}

impl Aperture {
    /// Aperture over columns `cols` and all rows of `probe`.
    pub fn columns(probe: &Probe, cols: Range<usize>, mode: ChannelMode) -> Result<Aperture> {
        Aperture::new(probe, cols, 0..probe.rows, mode)
    }

    /// The whole probe, every column a channel, with the given elevation focus.
    pub fn full(probe: &Probe, elevation_focus_m: Option<f64>) -> Result<Aperture> {
        Aperture::new(
            probe,
            0..probe.cols,
            0..probe.rows,
            ChannelMode::Columns { elevation_focus_m },
        )
    }

    /// Aperture over columns `cols` and rows `rows` of `probe`, grouped by `mode`.
    pub fn new(probe: &Probe, cols: Range<usize>, rows: Range<usize>, mode: ChannelMode) -> Result<Aperture> {
        if cols.is_empty() || cols.end > probe.cols {
            return Err(Error::invalid(
                "cols",
                format!("a non-empty range within 0..{}", probe.cols),
                format!("{cols:?}"),
            ));
        }
        if rows.is_empty() || rows.end > probe.rows {
            return Err(Error::invalid(
                "rows",
                format!("a non-empty range within 0..{}", probe.rows),
                format!("{rows:?}"),
            ));
        }
        let c = LENS_SOUND_SPEED_M_S;
        let mut channels = Vec::new();
        match mode {
            ChannelMode::Columns { elevation_focus_m } => {
                if let Some(f) = elevation_focus_m {
                    positive("elevation_focus_m", f)?;
                }
                for col in cols.clone() {
                    let els: Vec<usize> = rows.clone().map(|r| col * probe.rows + r).collect();
                    let y_ref = els.iter().map(|&e| probe.elements[e].position_m[1]).sum::<f64>() / els.len() as f64;
                    let e0 = probe.elements[els[0]];
                    let advances_s = els
                        .iter()
                        .map(|&e| match elevation_focus_m {
                            Some(f) => {
                                let dy = probe.elements[e].position_m[1] - y_ref;
                                ((f * f + dy * dy).sqrt() - f) / c
                            }
                            None => 0.0,
                        })
                        .collect();
                    channels.push(Channel {
                        elements: els,
                        advances_s,
                        position_m: [e0.position_m[0], y_ref, e0.position_m[2]],
                        normal: e0.normal,
                    });
                }
            }
            ChannelMode::Elements => {
                for col in cols.clone() {
                    for r in rows.clone() {
                        let e = col * probe.rows + r;
                        let el = probe.elements[e];
                        channels.push(Channel {
                            elements: vec![e],
                            advances_s: vec![0.0],
                            position_m: el.position_m,
                            normal: el.normal,
                        });
                    }
                }
            }
        }
        Ok(Aperture {
            probe: probe.clone(),
            cols,
            rows,
            mode,
            channels,
        })
    }

    /// The probe.
    pub fn probe(&self) -> &Probe {
        &self.probe
    }
    /// Active columns.
    pub fn cols(&self) -> Range<usize> {
        self.cols.clone()
    }
    /// Active rows.
    pub fn rows(&self) -> Range<usize> {
        self.rows.clone()
    }
    /// Channel grouping.
    pub fn mode(&self) -> ChannelMode {
        self.mode
    }
    /// The channels.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }
    /// Number of channels.
    pub fn n_channels(&self) -> usize {
        self.channels.len()
    }
    /// Reference positions of all channels.
    pub fn channel_positions(&self) -> Vec<[f64; 3]> {
        self.channels.iter().map(|c| c.position_m).collect()
    }
    /// Azimuth width of the active aperture (centre of first to centre of last column plus one pitch).
    pub fn width_m(&self) -> f64 {
        self.cols.len() as f64 * self.probe.pitch_x_m
    }
    /// Centre of the active aperture (mean of the channel positions).
    pub fn center_m(&self) -> [f64; 3] {
        let n = self.channels.len() as f64;
        let mut c = [0.0; 3];
        for ch in &self.channels {
            for (ck, pk) in c.iter_mut().zip(ch.position_m) {
                *ck += pk / n;
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmut_grid_geometry() {
        let p = Probe::cmut_9000();
        assert_eq!((p.cols(), p.rows(), p.n_elements()), (140, 64, 8960));
        let first = p.element(0, 0).position_m;
        let last = p.element(139, 63).position_m;
        assert!((last[0] - first[0] - 139.0 * 208e-6).abs() < 1e-12);
        assert!((last[1] - first[1] - 63.0 * 208e-6).abs() < 1e-12);
        assert!((first[0] + last[0]).abs() < 1e-12, "centred");
    }

    #[test]
    fn column_lens_advances_focus_in_elevation() {
        let p = Probe::cmut_9000();
        let f = 0.05;
        let ap = Aperture::columns(
            &p,
            10..12,
            ChannelMode::Columns {
                elevation_focus_m: Some(f),
            },
        )
        .unwrap();
        let ch = &ap.channels()[0];
        // Element e fires advance_e early: arrival at the focus is the same for all rows.
        let focus = [ch.position_m[0], ch.position_m[1], f];
        let arr: Vec<f64> = ch
            .elements
            .iter()
            .zip(&ch.advances_s)
            .map(|(&e, a)| {
                let q = p.elements()[e].position_m;
                let d = ((q[0] - focus[0]).powi(2) + (q[1] - focus[1]).powi(2) + (q[2] - focus[2]).powi(2)).sqrt();
                d / LENS_SOUND_SPEED_M_S - a
            })
            .collect();
        let spread = arr.iter().cloned().fold(f64::MIN, f64::max) - arr.iter().cloned().fold(f64::MAX, f64::min);
        assert!(spread < 1e-15, "{spread}");
    }

    #[test]
    fn convex_elements_on_arc() {
        let p = Probe::convex(65, 0.5e-3, 0.45e-3, 5e-3, 0.04).unwrap();
        for e in p.elements() {
            let q = e.position_m;
            let r = (q[0].powi(2) + (q[2] + 0.04).powi(2)).sqrt();
            assert!((r - 0.04).abs() < 1e-12);
            let n = e.normal;
            assert!((n[0] * 0.04 - q[0]).abs() < 1e-12);
        }
    }

    #[test]
    fn invalid_probes_and_apertures() {
        let mut s = ArraySpec::cmut_9000();
        s.width_m = 1e-3;
        assert!(matches!(
            Probe::new(s),
            Err(Error::InvalidParameter { name: "width_m", .. })
        ));
        let p = Probe::cmut_9000();
        assert!(Aperture::columns(&p, 130..150, ChannelMode::Elements).is_err());
        assert!(Aperture::columns(&p, 5..5, ChannelMode::Elements).is_err());
        assert!(Probe::linear(0, 1e-3, 1e-3, 1e-3, 1).is_err());
        assert!(Probe::convex(200, 1e-3, 1e-3, 1e-3, 0.01).is_err());
    }
}
