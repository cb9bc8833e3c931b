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
//!
//! ## Validation
//!
//! Lengths are metres and are checked against plausible ranges ([`ELEMENT_SIZE_RANGE_M`],
//! [`MAX_ARRAY_SPAN_M`], [`CONVEX_RADIUS_RANGE_M`], [`ELEVATION_FOCUS_RANGE_M`]) whose error
//! message states the unit, so a value in millimetres is refused rather than modelled. A
//! [`Probe`] and an [`Aperture`] keep their invariants in private fields; deserialised ones are
//! rebuilt from their description ([`ArraySpec`]; probe, columns, rows and channel mode) and
//! compared with the elements and channels of the file, so a file cannot smuggle in an element
//! index or a geometry that the constructors would not produce. [`Element`] and [`Channel`] keep
//! public fields (they are read through `&` from a probe or an aperture, which cannot be changed
//! through them); deserialised on their own they are checked for finite, plausible values and unit
//! normals.

use crate::error::{Error, Result, count_at_least, plausible};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Plausible pitches and element sizes, metres: 1 µm to 10 cm.
pub const ELEMENT_SIZE_RANGE_M: (f64, f64) = (1e-6, 0.1);

/// Largest span of an array from its first to its last element centre, along azimuth (arc length
/// for convex arrays) or elevation, metres.
pub const MAX_ARRAY_SPAN_M: f64 = 1.0;

/// Plausible radii of curvature of a convex array, metres: 1 mm to 1 m.
pub const CONVEX_RADIUS_RANGE_M: (f64, f64) = (1e-3, 1.0);

/// Plausible electronic elevation focal depths, metres: 1 mm to 1 m.
pub const ELEVATION_FOCUS_RANGE_M: (f64, f64) = (1e-3, 1.0);

/// Largest magnitude of an element or channel coordinate, metres (an array spans at most
/// [`MAX_ARRAY_SPAN_M`] and sits at the origin).
pub const MAX_ELEMENT_COORDINATE_M: f64 = 1.0;

/// Largest magnitude of an elevation-lens advance, seconds (far above the 0.65 ms a lens over
/// [`MAX_ARRAY_SPAN_M`] can need at [`LENS_SOUND_SPEED_M_S`]).
pub const MAX_LENS_ADVANCE_S: f64 = 1e-3;

/// `v / |v|`, for a finite non-zero vector of any magnitude (scaled by its largest component
/// before squaring, so that `(1e300, 0, 1e300)` and `(1e-310, 0, 0)` normalise correctly).
/// Errors name `name` for a non-finite or zero vector.
pub(crate) fn unit_vector(name: &'static str, v: [f64; 3]) -> Result<[f64; 3]> {
    let scale = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if !(v.iter().all(|x| x.is_finite()) && scale > 0.0) {
        return Err(Error::invalid(name, "finite, non-zero vectors", format!("{v:?}")));
    }
    let s = v.map(|x| x / scale);
    let n = (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt();
    Ok(s.map(|x| x / n))
}

/// Checks a position: finite coordinates within ±[`MAX_ELEMENT_COORDINATE_M`].
fn check_position(name: &'static str, p: [f64; 3]) -> Result<[f64; 3]> {
    if p.iter().all(|v| v.is_finite() && v.abs() <= MAX_ELEMENT_COORDINATE_M) {
        Ok(p)
    } else {
        Err(Error::invalid(
            name,
            format!("finite coordinates within ±{MAX_ELEMENT_COORDINATE_M} m, in metres"),
            format!("{p:?}"),
        ))
    }
}

/// `|a − b|` within `abs_tol` plus 1e-9 of the larger magnitude (false for NaN).
fn near(a: f64, b: f64, abs_tol: f64) -> bool {
    (a - b).abs() <= abs_tol + 1e-9 * a.abs().max(b.abs())
}

fn near3(a: [f64; 3], b: [f64; 3], abs_tol: f64) -> bool {
    (0..3).all(|k| near(a[k], b[k], abs_tol))
}

/// One transducer element: a rectangle on the probe face.
///
/// The elements of a [`Probe`] are read through [`Probe::elements`]; an `Element` built or
/// deserialised on its own is checked (finite coordinates within ±[`MAX_ELEMENT_COORDINATE_M`],
/// sizes in [`ELEMENT_SIZE_RANGE_M`], a finite non-zero normal, normalised on reading).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ElementFields")]
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

#[derive(Deserialize)]
struct ElementFields {
    position_m: [f64; 3],
    width_m: f64,
    height_m: f64,
    normal: [f64; 3],
}

impl TryFrom<ElementFields> for Element {
    type Error = Error;
    fn try_from(f: ElementFields) -> Result<Element> {
        let (lo, hi) = ELEMENT_SIZE_RANGE_M;
        Ok(Element {
            position_m: check_position("position_m", f.position_m)?,
            width_m: plausible("width_m", f.width_m, lo, hi, "m")?,
            height_m: plausible("height_m", f.height_m, lo, hi, "m")?,
            normal: unit_vector("normal", f.normal)?,
        })
    }
}

impl Element {
    /// Unit vector along the element's width (azimuth), perpendicular to the normal and to y
    /// (for the unit normals of a probe's elements). Cost: O(1).
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
        /// Radius of curvature, metres, in [`CONVEX_RADIUS_RANGE_M`].
        radius_m: f64,
    },
}

/// A transducer array. See the [module docs](self).
///
/// Built by [`Probe::new`] from a validated [`ArraySpec`] (or a shortcut such as
/// [`Probe::linear`]); its fields are private, so its elements always form the spec's regular
/// grid. A deserialised probe is rebuilt from its spec and must match its listed elements (within
/// 1e-12 m, normals compared after normalisation), otherwise deserialisation fails with the
/// [`Error`] naming the field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ProbeFields")]
pub struct Probe {
    name: String,
    cols: usize,
    rows: usize,
    pitch_x_m: f64,
    pitch_y_m: f64,
    layout: Layout,
    elements: Vec<Element>,
}

#[derive(Deserialize)]
struct ProbeFields {
    name: String,
    cols: usize,
    rows: usize,
    pitch_x_m: f64,
    pitch_y_m: f64,
    layout: Layout,
    elements: Vec<Element>,
}

impl TryFrom<ProbeFields> for Probe {
    type Error = Error;
    fn try_from(f: ProbeFields) -> Result<Probe> {
        let Some(first) = f.elements.first() else {
            return Err(Error::empty("elements", "cols * rows elements (the probe's grid)"));
        };
        let probe = Probe::new(ArraySpec {
            name: f.name,
            cols: f.cols,
            rows: f.rows,
            pitch_x_m: f.pitch_x_m,
            pitch_y_m: f.pitch_y_m,
            width_m: first.width_m,
            height_m: first.height_m,
            layout: f.layout,
        })?;
        if f.elements.len() != probe.elements.len() {
            return Err(Error::shape(
                "elements",
                format!("{} elements (cols * rows)", probe.elements.len()),
                f.elements.len().to_string(),
            ));
        }
        let differs = |a: &Element, b: &Element| {
            !(near3(a.position_m, b.position_m, 1e-12)
                && near(a.width_m, b.width_m, 1e-12)
                && near(a.height_m, b.height_m, 1e-12)
                && near3(a.normal, b.normal, 1e-9))
        };
        if let Some(i) = (0..f.elements.len()).find(|&i| differs(&f.elements[i], &probe.elements[i])) {
            return Err(Error::shape(
                "elements",
                format!(
                    "element {i} at {:?} m (the spec's regular grid)",
                    probe.elements[i].position_m
                ),
                format!("{:?}", f.elements[i]),
            ));
        }
        Ok(probe)
    }
}

/// Largest number of elements a probe may have.
pub const MAX_ELEMENTS: usize = 1 << 17;

/// Parameters of a rectangular grid of elements (flat or convex in azimuth).
///
/// A plain value: [`ArraySpec::validate`] checks it, [`Probe::new`] builds from it, and a
/// deserialised spec is validated on reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ArraySpecFields")]
pub struct ArraySpec {
    /// Name shown in reports.
    pub name: String,
    /// Elements along azimuth (≥ 1; `cols * rows` ≤ [`MAX_ELEMENTS`]).
    pub cols: usize,
    /// Elements along elevation (1 for a 1D array).
    pub rows: usize,
    /// Azimuth pitch, metres (arc length for convex arrays), in [`ELEMENT_SIZE_RANGE_M`].
    pub pitch_x_m: f64,
    /// Elevation pitch, metres, in [`ELEMENT_SIZE_RANGE_M`].
    pub pitch_y_m: f64,
    /// Element width (azimuth), metres; at most the pitch.
    pub width_m: f64,
    /// Element height (elevation), metres; at most the elevation pitch when `rows > 1`.
    pub height_m: f64,
    /// Flat or convex.
    pub layout: Layout,
}

#[derive(Deserialize)]
struct ArraySpecFields {
    name: String,
    cols: usize,
    rows: usize,
    pitch_x_m: f64,
    pitch_y_m: f64,
    width_m: f64,
    height_m: f64,
    layout: Layout,
}

impl TryFrom<ArraySpecFields> for ArraySpec {
    type Error = Error;
    fn try_from(f: ArraySpecFields) -> Result<ArraySpec> {
        let spec = ArraySpec {
            name: f.name,
            cols: f.cols,
            rows: f.rows,
            pitch_x_m: f.pitch_x_m,
            pitch_y_m: f.pitch_y_m,
            width_m: f.width_m,
            height_m: f.height_m,
            layout: f.layout,
        };
        spec.validate()?;
        Ok(spec)
    }
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

    /// Checks every field: `cols`, `rows` ≥ 1 with `cols * rows` ≤ [`MAX_ELEMENTS`]; pitches and
    /// sizes in [`ELEMENT_SIZE_RANGE_M`] metres; `width_m` ≤ `pitch_x_m`; `height_m` ≤ `pitch_y_m`
    /// when `rows > 1`; spans `(cols − 1)·pitch_x_m` and `(rows − 1)·pitch_y_m` ≤
    /// [`MAX_ARRAY_SPAN_M`]; a convex radius in [`CONVEX_RADIUS_RANGE_M`] for which the arc spans
    /// less than 180°. The error names the first offending field, the expected range with its unit
    /// and the value. Cost: O(1), no allocation on success.
    pub fn validate(&self) -> Result<()> {
        count_at_least("cols", self.cols, 1)?;
        count_at_least("rows", self.rows, 1)?;
        if self.cols.saturating_mul(self.rows) > MAX_ELEMENTS {
            return Err(Error::invalid(
                "cols * rows",
                format!("at most {MAX_ELEMENTS} elements"),
                self.cols.saturating_mul(self.rows),
            ));
        }
        let (lo, hi) = ELEMENT_SIZE_RANGE_M;
        plausible("pitch_x_m", self.pitch_x_m, lo, hi, "m")?;
        plausible("pitch_y_m", self.pitch_y_m, lo, hi, "m")?;
        plausible("width_m", self.width_m, lo, hi, "m")?;
        plausible("height_m", self.height_m, lo, hi, "m")?;
        if self.width_m > self.pitch_x_m * (1.0 + 1e-9) {
            return Err(Error::invalid(
                "width_m",
                format!("at most pitch_x_m = {} m", self.pitch_x_m),
                self.width_m,
            ));
        }
        if self.rows > 1 && self.height_m > self.pitch_y_m * (1.0 + 1e-9) {
            return Err(Error::invalid(
                "height_m",
                format!("at most pitch_y_m = {} m", self.pitch_y_m),
                self.height_m,
            ));
        }
        for (name, n, pitch) in [("cols", self.cols, self.pitch_x_m), ("rows", self.rows, self.pitch_y_m)] {
            let span = (n - 1) as f64 * pitch;
            if span > MAX_ARRAY_SPAN_M {
                return Err(Error::invalid(
                    name,
                    format!("an array spanning at most {MAX_ARRAY_SPAN_M} m (count - 1) x pitch, in metres"),
                    format!("{n} elements spanning {span} m"),
                ));
            }
        }
        if let Layout::Convex { radius_m } = self.layout {
            let (lo, hi) = CONVEX_RADIUS_RANGE_M;
            plausible("radius_m", radius_m, lo, hi, "m")?;
            let half_arc = 0.5 * self.pitch_x_m * (self.cols - 1) as f64 / radius_m;
            if half_arc >= std::f64::consts::FRAC_PI_2 {
                return Err(Error::invalid(
                    "radius_m",
                    "a radius for which the array spans less than 180 degrees",
                    radius_m,
                ));
            }
        }
        Ok(())
    }
}

impl Probe {
    /// Builds a probe from a spec, validating every field ([`ArraySpec::validate`]). Cost:
    /// O(`cols * rows`) time and one allocation of that many elements (at most
    /// [`MAX_ELEMENTS`]), made after validation.
    pub fn new(spec: ArraySpec) -> Result<Probe> {
        spec.validate()?;
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
    /// `height_m` (elevation), all metres in [`ELEMENT_SIZE_RANGE_M`]. `elevation_subelements` > 1
    /// splits each element in elevation so that an elevation lens can be modelled with
    /// [`ChannelMode::Columns`] (each sub-element's height must stay in range). Validated as
    /// [`Probe::new`]; same cost.
    pub fn linear(n: usize, pitch_m: f64, width_m: f64, height_m: f64, elevation_subelements: usize) -> Result<Probe> {
        count_at_least("elevation_subelements", elevation_subelements, 1)?;
        let (lo, hi) = ELEMENT_SIZE_RANGE_M;
        plausible("height_m", height_m, lo, hi, "m")?;
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
    /// Validated as [`Probe::linear`]; same cost.
    pub fn phased(n: usize, pitch_m: f64, width_m: f64, height_m: f64) -> Result<Probe> {
        let mut p = Probe::linear(n, pitch_m, width_m, height_m, 1)?;
        p.name = format!("phased {n} x {:.3} mm", pitch_m * 1e3);
        Ok(p)
    }

    /// A convex 1D array of `n` elements at arc pitch `pitch_m` on a radius `radius_m` (in
    /// [`CONVEX_RADIUS_RANGE_M`], the arc spanning less than 180°). Validated as [`Probe::new`];
    /// same cost.
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
    /// lens is modelled by the rows; with 1 the simulator splits the 5 mm element into
    /// sub-elements itself (`sim::SimOptions::subelements`), which then take the lens law of a
    /// [`ChannelMode::Columns`] focus at their own positions.
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
    /// All elements, index `col * rows + row` (never empty).
    pub fn elements(&self) -> &[Element] {
        &self.elements
    }
    /// Number of elements (`cols * rows`, at least 1).
    pub fn n_elements(&self) -> usize {
        self.elements.len()
    }
    /// Element at column `col`, row `row`, or `None` when `col ≥ cols` or `row ≥ rows`. Cost: O(1).
    pub fn get_element(&self, col: usize, row: usize) -> Option<&Element> {
        (col < self.cols && row < self.rows).then(|| &self.elements[col * self.rows + row])
    }
    /// Element at column `col`, row `row`, like indexing a slice; [`Probe::get_element`] is the
    /// form that cannot fail.
    ///
    /// # Panics
    ///
    /// When `col ≥ cols` or `row ≥ rows` (a caller's indexing bug, as with `slice[i]`).
    pub fn element(&self, col: usize, row: usize) -> &Element {
        match self.get_element(col, row) {
            Some(e) => e,
            None => panic!(
                "element ({col}, {row}) is outside the {} x {} probe",
                self.cols, self.rows
            ),
        }
    }
}

/// How active elements become channels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChannelMode {
    /// One channel per active column: its active rows summed after elevation-focusing delays for a
    /// focus at `elevation_focus_m` (None: summed without delays).
    Columns {
        /// Electronic elevation focal depth, metres, in [`ELEVATION_FOCUS_RANGE_M`] (checked by
        /// [`Aperture::new`]).
        elevation_focus_m: Option<f64>,
    },
    /// Every active element is a channel.
    Elements,
}

/// One receive/transmit channel: a set of elements and their elevation-lens advances.
///
/// The channels of an [`Aperture`] are read through [`Aperture::channels`] and always refer to
/// elements of its probe. A `Channel` deserialised on its own is checked: at least one element and
/// at most [`MAX_ELEMENTS`], one finite advance within ±[`MAX_LENS_ADVANCE_S`] per element, a
/// position with finite coordinates within ±[`MAX_ELEMENT_COORDINATE_M`], and a finite non-zero
/// normal (normalised on reading). Whether its element indices exist is a question for the
/// aperture, which checks them against its probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ChannelFields")]
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

#[derive(Deserialize)]
struct ChannelFields {
    elements: Vec<usize>,
    advances_s: Vec<f64>,
    position_m: [f64; 3],
    normal: [f64; 3],
}

impl TryFrom<ChannelFields> for Channel {
    type Error = Error;
    fn try_from(f: ChannelFields) -> Result<Channel> {
        if f.elements.is_empty() {
            return Err(Error::empty("elements", "at least one element per channel"));
        }
        if f.elements.len() > MAX_ELEMENTS {
            return Err(Error::invalid(
                "elements",
                format!("at most {MAX_ELEMENTS} elements per channel"),
                f.elements.len(),
            ));
        }
        if f.advances_s.len() != f.elements.len() {
            return Err(Error::shape(
                "advances_s",
                format!("{} advances (one per element)", f.elements.len()),
                f.advances_s.len().to_string(),
            ));
        }
        if let Some(a) = f
            .advances_s
            .iter()
            .find(|a| !(a.is_finite() && a.abs() <= MAX_LENS_ADVANCE_S))
        {
            return Err(Error::invalid(
                "advances_s",
                format!("finite advances within ±{MAX_LENS_ADVANCE_S} s"),
                a,
            ));
        }
        Ok(Channel {
            elements: f.elements,
            advances_s: f.advances_s,
            position_m: check_position("position_m", f.position_m)?,
            normal: unit_vector("normal", f.normal)?,
        })
    }
}

/// Speed of sound used for electronic elevation focusing (scanner convention), m/s.
pub const LENS_SOUND_SPEED_M_S: f64 = 1540.0;

/// The advance of an electronic elevation lens focused at `focus_m` for a point `dy_m` from the
/// lens axis, seconds: `(√(f² + dy²) − f) / c` at [`LENS_SOUND_SPEED_M_S`], in a form without
/// cancellation. [`Aperture::new`] gives each element of a focused column channel this advance;
/// the simulator gives it to the sub-elements it splits an element into.
pub(crate) fn lens_advance_s(dy_m: f64, focus_m: f64) -> f64 {
    dy_m * dy_m / (focus_m.hypot(dy_m) + focus_m) / LENS_SOUND_SPEED_M_S
}

/// Active elements grouped into channels. See the [module docs](self).
///
/// Built by [`Aperture::new`] (or [`Aperture::columns`], [`Aperture::full`]); its fields are
/// private, so every channel refers to elements of its probe. A deserialised aperture is rebuilt
/// from its probe, columns, rows and channel mode with [`Aperture::new`]; when the file lists
/// channels they must equal the rebuilt ones (element indices exactly, advances within 1e-15 s,
/// positions within 1e-12 m, normals within 1e-9), and when it omits them the rebuilt ones are
/// used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ApertureFields")]
pub struct Aperture {
    probe: Probe,
    cols: Range<usize>,
    rows: Range<usize>,
    mode: ChannelMode,
    channels: Vec<Channel>,
}

#[derive(Deserialize)]
struct ApertureFields {
    probe: Probe,
    cols: Range<usize>,
    rows: Range<usize>,
    mode: ChannelMode,
    #[serde(default)]
    channels: Option<Vec<Channel>>,
}

impl TryFrom<ApertureFields> for Aperture {
    type Error = Error;
    fn try_from(f: ApertureFields) -> Result<Aperture> {
        let ap = Aperture::new(&f.probe, f.cols, f.rows, f.mode)?;
        let Some(listed) = f.channels else {
            return Ok(ap);
        };
        if listed.len() != ap.channels.len() {
            return Err(Error::shape(
                "channels",
                format!("{} channels (the aperture's columns, rows and mode)", ap.channels.len()),
                listed.len().to_string(),
            ));
        }
        let differs = |a: &Channel, b: &Channel| {
            a.elements != b.elements
                || a.advances_s.len() != b.advances_s.len()
                || a.advances_s
                    .iter()
                    .zip(&b.advances_s)
                    .any(|(x, y)| !near(*x, *y, 1e-15))
                || !near3(a.position_m, b.position_m, 1e-12)
                || !near3(a.normal, b.normal, 1e-9)
        };
        if let Some(i) = (0..listed.len()).find(|&i| differs(&listed[i], &ap.channels[i])) {
            return Err(Error::shape(
                "channels",
                format!(
                    "channel {i} with elements {:?} (rebuilt from the probe, columns, rows and mode)",
                    ap.channels[i].elements
                ),
                format!("elements {:?}", listed[i].elements),
            ));
        }
        Ok(ap)
    }
}

impl Aperture {
    /// Aperture over columns `cols` and all rows of `probe`. Validated and costed as
    /// [`Aperture::new`].
    pub fn columns(probe: &Probe, cols: Range<usize>, mode: ChannelMode) -> Result<Aperture> {
        Aperture::new(probe, cols, 0..probe.rows, mode)
    }

    /// The whole probe, every column a channel, with the given elevation focus (metres, in
    /// [`ELEVATION_FOCUS_RANGE_M`]). Validated and costed as [`Aperture::new`].
    pub fn full(probe: &Probe, elevation_focus_m: Option<f64>) -> Result<Aperture> {
        Aperture::new(
            probe,
            0..probe.cols,
            0..probe.rows,
            ChannelMode::Columns { elevation_focus_m },
        )
    }

    /// Aperture over columns `cols` and rows `rows` of `probe` (non-empty ranges within the probe),
    /// grouped by `mode`; a [`ChannelMode::Columns`] focus must lie in [`ELEVATION_FOCUS_RANGE_M`]
    /// metres. Errors name `cols`, `rows` or `elevation_focus_m`. Cost: O(active elements) time and
    /// memory (a copy of the probe plus one channel per column or element).
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
        let mut channels = Vec::new();
        match mode {
            ChannelMode::Columns { elevation_focus_m } => {
                if let Some(f) = elevation_focus_m {
                    let (lo, hi) = ELEVATION_FOCUS_RANGE_M;
                    plausible("elevation_focus_m", f, lo, hi, "m")?;
                }
                for col in cols.clone() {
                    let els: Vec<usize> = rows.clone().map(|r| col * probe.rows + r).collect();
                    let y_ref = els.iter().map(|&e| probe.elements[e].position_m[1]).sum::<f64>() / els.len() as f64;
                    let e0 = probe.elements[col * probe.rows + rows.start];
                    let advances_s = els
                        .iter()
                        .map(|&e| match elevation_focus_m {
                            Some(f) => lens_advance_s(probe.elements[e].position_m[1] - y_ref, f),
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
    /// Active columns (non-empty, within the probe).
    pub fn cols(&self) -> Range<usize> {
        self.cols.clone()
    }
    /// Active rows (non-empty, within the probe).
    pub fn rows(&self) -> Range<usize> {
        self.rows.clone()
    }
    /// Channel grouping.
    pub fn mode(&self) -> ChannelMode {
        self.mode
    }
    /// The channels (at least one; each refers to elements of [`Aperture::probe`]).
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }
    /// Number of channels (at least 1).
    pub fn n_channels(&self) -> usize {
        self.channels.len()
    }
    /// Reference positions of all channels, metres. Allocates one vector.
    pub fn channel_positions(&self) -> Vec<[f64; 3]> {
        self.channels.iter().map(|c| c.position_m).collect()
    }
    /// Azimuth width of the active aperture (centre of first to centre of last column plus one pitch).
    pub fn width_m(&self) -> f64 {
        self.cols.len() as f64 * self.probe.pitch_x_m
    }
    /// Centre of the active aperture (mean of the channel positions), metres. Cost: O(channels).
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
