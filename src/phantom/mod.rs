//! Phantoms: point scatterers and seeded, deterministic generators.
//!
//! A [`Phantom`] is a list of [`Scatterer`]s (position in metres, signed amplitude). Generators:
//! * [`Phantom::points`] and [`Phantom::wire_grid`]: point targets (wires) for resolution;
//! * [`SpeckleBuilder`]: fully developed speckle — Gaussian amplitudes at uniformly random positions
//!   in a slab, at a chosen density — painted with [`Feature`]s (disks, ellipses, layers, annuli)
//!   that set the local echogenicity (0 = anechoic, > 1 hyperechoic), as in the painter's algorithm:
//!   the last feature containing a point decides;
//! * [`Phantom::from_image`]: scatterer amplitudes sampled from a grayscale image (Field II style);
//! * built-in anatomy for the clinical families: [`Phantom::vessel`], [`Phantom::tendon`],
//!   [`Phantom::nerve`] (linear); [`Phantom::abdomen`], [`Phantom::bladder`], [`Phantom::obstetric`]
//!   (curved); [`Phantom::heart`] (an apical four-chamber view whose parts can move on their own,
//!   [`heart`]), [`Phantom::lung`] (phased); plus [`Phantom::cyst`] and [`Phantom::resolution`] for measurements.
//!   The same scenes with the attenuation maps of their tissues (fluid, blood, bone) are
//!   [`Anatomy`]s ([`Anatomy::vessel`], …), which is what the presets simulate;
//! * [`SpecularInterface`]: a flat specular interface parallel to the probe face (a pleura) as a
//!   dense coherent line of scatterers calibrated to its reflection coefficient, with image lines
//!   for its reverberations with the probe face (A-lines).
//!
//! The same seed always gives the same phantom.
//!
//! ```
//! use sonochip::phantom::{Feature, SpeckleBuilder};
//! let ph = SpeckleBuilder::new((-0.01, 0.01), (0.01, 0.03), 20.0)
//!     .unwrap()
//!     .feature(Feature::disk([0.0, 0.02], 0.003, 0.0))
//!     .build(7)
//!     .unwrap();
//! // No scatterer inside the anechoic disk.
//! assert!(ph.scatterers().iter().all(|s| (s.position_m[0].powi(2) + (s.position_m[2] - 0.02).powi(2)).sqrt() >= 0.003));
//! ```

use crate::error::{Error, Result, finite, non_negative, plausible, positive};
use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

mod anatomy;
pub mod heart;
pub mod motion;
pub mod specular;

pub use anatomy::Anatomy;
pub use specular::SpecularInterface;

pub use heart::HeartPart;

/// Largest number of scatterers a generator may make.
pub const MAX_SCATTERERS: usize = 20_000_000;

/// Largest coordinate magnitude of a scatterer or feature, metres (plausibility: the scanner images
/// at most 30 cm deep, and a phantom given in millimetres instead of metres is refused).
pub const MAX_EXTENT_M: f64 = 1.0;

/// Largest amplitude magnitude of a scatterer or echogenicity of a feature or image pixel (speckle
/// has unit standard deviation; this is 120 dB above it).
pub const MAX_AMPLITUDE: f64 = 1e6;

/// Checks a position: finite, within ±[`MAX_EXTENT_M`] in each coordinate.
fn check_position(name: &'static str, p: [f64; 3]) -> Result<()> {
    if p.iter().all(|v| v.is_finite() && v.abs() <= MAX_EXTENT_M) {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!("coordinates within ±{MAX_EXTENT_M} m, in metres"),
            format!("{p:?}"),
        ))
    }
}

/// Checks an amplitude: finite, within ±[`MAX_AMPLITUDE`].
fn check_amplitude(name: &'static str, a: f64) -> Result<()> {
    plausible(
        name,
        a,
        -MAX_AMPLITUDE,
        MAX_AMPLITUDE,
        "(speckle has unit standard deviation)",
    )
    .map(|_| ())
}

/// A point scatterer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scatterer {
    /// Position, metres.
    pub position_m: [f64; 3],
    /// Signed reflection amplitude (arbitrary units).
    pub amplitude: f32,
}

/// A set of scatterers (validated on construction and on deserialisation).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "PhantomFields")]
pub struct Phantom {
    scatterers: Vec<Scatterer>,
}

#[derive(Deserialize)]
struct PhantomFields {
    scatterers: Vec<Scatterer>,
}

impl TryFrom<PhantomFields> for Phantom {
    type Error = Error;
    fn try_from(f: PhantomFields) -> Result<Phantom> {
        Phantom::new(f.scatterers)
    }
}

/// A region of the x–z plane with an echogenicity (amplitude factor) for [`SpeckleBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Feature {
    /// An ellipse with centre `(x, z)`, semi-axes `(a_x, a_z)` before rotation by `angle_rad`.
    Ellipse {
        /// Centre (x, z), metres.
        center_m: [f64; 2],
        /// Semi-axes along x and z before rotation, metres.
        semi_axes_m: [f64; 2],
        /// Rotation, radians.
        angle_rad: f64,
        /// Amplitude factor inside.
        echogenicity: f64,
    },
    /// The band `z_top ≤ z < z_bottom`.
    Layer {
        /// Top depth, metres.
        z_top_m: f64,
        /// Bottom depth, metres.
        z_bottom_m: f64,
        /// Amplitude factor inside.
        echogenicity: f64,
    },
    /// The ring `inner ≤ r < outer` around `(x, z)`.
    Annulus {
        /// Centre (x, z), metres.
        center_m: [f64; 2],
        /// Inner radius, metres.
        inner_m: f64,
        /// Outer radius, metres.
        outer_m: f64,
        /// Amplitude factor inside.
        echogenicity: f64,
    },
}

impl Feature {
    /// A disk (circular inclusion): echogenicity 0 is an anechoic cyst.
    pub fn disk(center_m: [f64; 2], radius_m: f64, echogenicity: f64) -> Feature {
        Feature::Ellipse {
            center_m,
            semi_axes_m: [radius_m, radius_m],
            angle_rad: 0.0,
            echogenicity,
        }
    }

    /// An ellipse (see [`Feature::Ellipse`]).
    pub fn ellipse(center_m: [f64; 2], semi_axes_m: [f64; 2], angle_rad: f64, echogenicity: f64) -> Feature {
        Feature::Ellipse {
            center_m,
            semi_axes_m,
            angle_rad,
            echogenicity,
        }
    }

    /// A layer (see [`Feature::Layer`]).
    pub fn layer(z_top_m: f64, z_bottom_m: f64, echogenicity: f64) -> Feature {
        Feature::Layer {
            z_top_m,
            z_bottom_m,
            echogenicity,
        }
    }

    /// A ring (see [`Feature::Annulus`]).
    pub fn annulus(center_m: [f64; 2], inner_m: f64, outer_m: f64, echogenicity: f64) -> Feature {
        Feature::Annulus {
            center_m,
            inner_m,
            outer_m,
            echogenicity,
        }
    }

    /// Whether `(x, z)` lies inside.
    pub fn contains(&self, x: f64, z: f64) -> bool {
        match *self {
            Feature::Ellipse {
                center_m,
                semi_axes_m,
                angle_rad,
                ..
            } => {
                let (s, c) = angle_rad.sin_cos();
                let (dx, dz) = (x - center_m[0], z - center_m[1]);
                let (u, v) = (c * dx + s * dz, -s * dx + c * dz);
                (u / semi_axes_m[0]).powi(2) + (v / semi_axes_m[1]).powi(2) < 1.0
            }
            Feature::Layer {
                z_top_m, z_bottom_m, ..
            } => z >= z_top_m && z < z_bottom_m,
            Feature::Annulus {
                center_m,
                inner_m,
                outer_m,
                ..
            } => {
                let r = ((x - center_m[0]).powi(2) + (z - center_m[1]).powi(2)).sqrt();
                r >= inner_m && r < outer_m
            }
        }
    }

    /// The amplitude factor inside.
    pub fn echogenicity(&self) -> f64 {
        match *self {
            Feature::Ellipse { echogenicity, .. }
            | Feature::Layer { echogenicity, .. }
            | Feature::Annulus { echogenicity, .. } => echogenicity,
        }
    }

    fn validate(&self) -> Result<()> {
        non_negative("echogenicity", self.echogenicity())?;
        check_amplitude("echogenicity", self.echogenicity())?;
        let len = |name, v| plausible(name, v, 0.0, MAX_EXTENT_M, "m");
        match *self {
            Feature::Ellipse {
                center_m,
                semi_axes_m,
                angle_rad,
                ..
            } => {
                check_position("center_m", [center_m[0], 0.0, center_m[1]])?;
                positive("semi_axes_m", semi_axes_m[0].min(semi_axes_m[1]))?;
                len("semi_axes_m", semi_axes_m[0].max(semi_axes_m[1]))?;
                finite("angle_rad", angle_rad)?;
            }
            Feature::Layer {
                z_top_m, z_bottom_m, ..
            } => {
                check_position("z_top_m", [0.0, 0.0, z_top_m])?;
                check_position("z_bottom_m", [0.0, 0.0, z_bottom_m])?;
                positive("z_bottom_m - z_top_m", z_bottom_m - z_top_m)?;
            }
            Feature::Annulus {
                center_m,
                inner_m,
                outer_m,
                ..
            } => {
                check_position("center_m", [center_m[0], 0.0, center_m[1]])?;
                non_negative("inner_m", inner_m)?;
                len("outer_m", outer_m)?;
                positive("outer_m - inner_m", outer_m - inner_m)?;
            }
        }
        Ok(())
    }
}

/// Builds speckle phantoms. See the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct SpeckleBuilder {
    x_range_m: (f64, f64),
    z_range_m: (f64, f64),
    thickness_m: f64,
    density_per_mm2: f64,
    features: Vec<Feature>,
    points: Vec<Scatterer>,
}

/// Scatterers per mm² of the imaging plane that put `per_cell` scatterers in each resolution cell
/// of lateral size `lateral_res_m` and axial size `axial_res_m` (fully developed speckle needs ≥ 10; `docs/physics.md#speckle`).
pub fn density_for(per_cell: f64, lateral_res_m: f64, axial_res_m: f64) -> f64 {
    per_cell / (lateral_res_m * 1e3 * axial_res_m * 1e3)
}

fn check_range(name: &'static str, r: (f64, f64)) -> Result<()> {
    for v in [r.0, r.1] {
        plausible(name, v, -MAX_EXTENT_M, MAX_EXTENT_M, "m")?;
    }
    if r.1 > r.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            "a range (lo, hi) with hi > lo",
            format!("({}, {})", r.0, r.1),
        ))
    }
}

impl SpeckleBuilder {
    /// Speckle over `x_range_m × z_range_m` at `density_per_mm2` scatterers per mm² of the x–z plane,
    /// in a slab 1 mm thick in elevation (see [`SpeckleBuilder::thickness`]).
    pub fn new(x_range_m: (f64, f64), z_range_m: (f64, f64), density_per_mm2: f64) -> Result<SpeckleBuilder> {
        check_range("x_range_m", x_range_m)?;
        check_range("z_range_m", z_range_m)?;
        positive("density_per_mm2", density_per_mm2)?;
        Ok(SpeckleBuilder {
            x_range_m,
            z_range_m,
            thickness_m: 1e-3,
            density_per_mm2,
            features: vec![],
            points: vec![],
        })
    }

    /// Elevation thickness of the slab (scatterers have `|y| ≤ thickness/2`), metres (≥ 0).
    pub fn thickness(mut self, thickness_m: f64) -> Self {
        self.thickness_m = thickness_m;
        self
    }

    /// Paints a feature (later features win).
    pub fn feature(mut self, f: Feature) -> Self {
        self.features.push(f);
        self
    }

    /// Adds a point target of the given amplitude (in units of the speckle's standard deviation).
    pub fn point(mut self, position_m: [f64; 3], amplitude: f32) -> Self {
        self.points.push(Scatterer { position_m, amplitude });
        self
    }

    /// Echogenicity at `(x, z)`: 1 unless a feature says otherwise.
    pub fn echogenicity(&self, x: f64, z: f64) -> f64 {
        self.features
            .iter()
            .rev()
            .find(|f| f.contains(x, z))
            .map_or(1.0, |f| f.echogenicity())
    }

    /// Number of scatterers the builder will draw (before removing anechoic ones).
    pub fn count(&self) -> f64 {
        let area_mm2 = (self.x_range_m.1 - self.x_range_m.0) * (self.z_range_m.1 - self.z_range_m.0) * 1e6;
        (area_mm2 * self.density_per_mm2).round()
    }

    /// Draws the phantom with `seed`.
    pub fn build(&self, seed: u64) -> Result<Phantom> {
        plausible("thickness_m", self.thickness_m, 0.0, MAX_EXTENT_M, "m")?;
        plausible("density_per_mm2", self.density_per_mm2, 0.0, 1e5, "scatterers per mm²")?;
        for f in &self.features {
            f.validate()?;
        }
        for p in &self.points {
            check_position("point", p.position_m)?;
            check_amplitude("amplitude", p.amplitude as f64)?;
        }
        let n = self.count();
        if n.is_nan() || n > MAX_SCATTERERS as f64 {
            return Err(Error::invalid(
                "density_per_mm2",
                format!("at most {MAX_SCATTERERS} scatterers in the region"),
                n,
            ));
        }
        let n = n as usize;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut scatterers = Vec::with_capacity(n + self.points.len());
        for _ in 0..n {
            let x = rng.random_range(self.x_range_m.0..self.x_range_m.1);
            let z = rng.random_range(self.z_range_m.0..self.z_range_m.1);
            let y = (rng.random::<f64>() - 0.5) * self.thickness_m;
            let a: f64 = rng.sample(StandardNormal);
            let e = self.echogenicity(x, z);
            if e > 0.0 {
                scatterers.push(Scatterer {
                    position_m: [x, y, z],
                    amplitude: (a * e) as f32,
                });
            }
        }
        // Point targets scaled to stand out against unit-variance speckle at this density.
        scatterers.extend(self.points.iter().copied());
        Ok(Phantom { scatterers })
    }
}

impl Phantom {
    /// A phantom from explicit scatterers.
    pub fn new(scatterers: Vec<Scatterer>) -> Result<Phantom> {
        if scatterers.len() > MAX_SCATTERERS {
            return Err(Error::invalid(
                "scatterers",
                format!("at most {MAX_SCATTERERS} scatterers"),
                scatterers.len(),
            ));
        }
        for s in &scatterers {
            check_position("position_m", s.position_m)?;
            check_amplitude("amplitude", s.amplitude as f64)?;
        }
        Ok(Phantom { scatterers })
    }

    /// Point targets of equal amplitude 1 at the given positions.
    pub fn points(positions_m: &[[f64; 3]]) -> Result<Phantom> {
        Phantom::new(
            positions_m
                .iter()
                .map(|&p| Scatterer {
                    position_m: p,
                    amplitude: 1.0,
                })
                .collect(),
        )
    }

    /// A grid of wires (point targets in the y = 0 plane) at every `(x, z)` of the two axes.
    pub fn wire_grid(x_m: &[f64], z_m: &[f64]) -> Result<Phantom> {
        if x_m.len().checked_mul(z_m.len()).is_none_or(|n| n > MAX_SCATTERERS) {
            return Err(Error::invalid(
                "x_m",
                format!("at most {MAX_SCATTERERS} wires (x_m.len() × z_m.len())"),
                format!("{} x {}", x_m.len(), z_m.len()),
            ));
        }
        let pts: Vec<[f64; 3]> = z_m
            .iter()
            .flat_map(|&z| x_m.iter().map(move |&x| [x, 0.0, z]))
            .collect();
        Phantom::points(&pts)
    }

    /// Scatterers with amplitudes sampled from a grayscale image (Field II's approach): `image` is
    /// `[rows = z, cols = x]` with values ≥ 0 spanning `x_range_m × z_range_m`; speckle at
    /// `density_per_mm2` with echogenicity = the bilinearly interpolated image value.
    pub fn from_image(
        image: ArrayView2<f32>,
        x_range_m: (f64, f64),
        z_range_m: (f64, f64),
        density_per_mm2: f64,
        seed: u64,
    ) -> Result<Phantom> {
        let (nr, nc) = image.dim();
        if nr < 2 || nc < 2 {
            return Err(Error::shape("image", "at least 2 x 2 pixels", format!("{nr} x {nc}")));
        }
        if image
            .iter()
            .any(|v| !(v.is_finite() && *v >= 0.0 && f64::from(*v) <= MAX_AMPLITUDE))
        {
            return Err(Error::invalid(
                "image",
                format!("finite values in [0, {MAX_AMPLITUDE}] (echogenicity)"),
                "a negative, non-finite or too large pixel",
            ));
        }
        let b = SpeckleBuilder::new(x_range_m, z_range_m, density_per_mm2)?;
        let mut ph = b.build(seed)?;
        let sample = |x: f64, z: f64| -> f64 {
            let u = ((x - x_range_m.0) / (x_range_m.1 - x_range_m.0) * (nc - 1) as f64).clamp(0.0, (nc - 1) as f64);
            let v = ((z - z_range_m.0) / (z_range_m.1 - z_range_m.0) * (nr - 1) as f64).clamp(0.0, (nr - 1) as f64);
            let (c0, r0) = ((u as usize).min(nc - 2), (v as usize).min(nr - 2));
            let (fu, fv) = (u - c0 as f64, v - r0 as f64);
            let g = |r: usize, c: usize| image[[r, c]] as f64;
            (1.0 - fv) * ((1.0 - fu) * g(r0, c0) + fu * g(r0, c0 + 1))
                + fv * ((1.0 - fu) * g(r0 + 1, c0) + fu * g(r0 + 1, c0 + 1))
        };
        ph.scatterers.retain_mut(|s| {
            let e = sample(s.position_m[0], s.position_m[2]);
            s.amplitude *= e as f32;
            e > 0.0
        });
        Ok(ph)
    }

    /// The scatterers.
    pub fn scatterers(&self) -> &[Scatterer] {
        &self.scatterers
    }

    /// Number of scatterers.
    pub fn len(&self) -> usize {
        self.scatterers.len()
    }

    /// True when there is no scatterer.
    pub fn is_empty(&self) -> bool {
        self.scatterers.is_empty()
    }

    /// Union of two phantoms.
    pub fn merged(mut self, other: &Phantom) -> Phantom {
        self.scatterers.extend_from_slice(&other.scatterers);
        self
    }

    /// Multiplies every amplitude by `k` (finite; the results must stay within ±[`MAX_AMPLITUDE`]).
    pub fn scaled(mut self, k: f32) -> Result<Phantom> {
        finite("k", k as f64)?;
        let peak = self
            .scatterers
            .iter()
            .fold(0.0f64, |m, s| m.max((s.amplitude as f64).abs()));
        check_amplitude("k", peak * k as f64)?;
        self.scatterers.iter_mut().for_each(|s| s.amplitude *= k);
        Ok(self)
    }

    /// Resolution phantom: wires every 10 mm in depth from `z_first_m` to `z_last_m` at x = 0, and a
    /// lateral row of wires at `z_row_m` spaced `spacing_m` over `±half_width_m`.
    pub fn resolution(
        z_first_m: f64,
        z_last_m: f64,
        z_row_m: f64,
        spacing_m: f64,
        half_width_m: f64,
    ) -> Result<Phantom> {
        for (name, v) in [
            ("z_first_m", z_first_m),
            ("z_last_m", z_last_m),
            ("z_row_m", z_row_m),
            ("half_width_m", half_width_m),
        ] {
            plausible(name, v, -MAX_EXTENT_M, MAX_EXTENT_M, "m")?;
        }
        positive("spacing_m", spacing_m)?;
        positive("z_last_m - z_first_m", z_last_m - z_first_m + 1e-12)?;
        let n = ((z_last_m - z_first_m) / 0.01).floor() as usize + 1;
        let m = (half_width_m / spacing_m).floor() as usize;
        if n > 10_000 || m > 10_000 {
            return Err(Error::invalid(
                "spacing_m",
                "at most 10,000 wires per axis",
                format!("{n} x {m}"),
            ));
        }
        let mut pts: Vec<[f64; 3]> = (0..n).map(|i| [0.0, 0.0, z_first_m + 0.01 * i as f64]).collect();
        for i in 1..=m {
            for s in [-1.0, 1.0] {
                pts.push([s * spacing_m * i as f64, 0.0, z_row_m]);
            }
        }
        Phantom::points(&pts)
    }

    /// Contrast/speckle phantom: speckle over the region with an anechoic cyst and a +6 dB
    /// hyperechoic inclusion of radius `radius_m` side by side at depth `z_m`.
    pub fn cyst(
        x_range_m: (f64, f64),
        z_range_m: (f64, f64),
        z_m: f64,
        radius_m: f64,
        density_per_mm2: f64,
        seed: u64,
    ) -> Result<Phantom> {
        let dx = 0.25 * (x_range_m.1 - x_range_m.0);
        SpeckleBuilder::new(x_range_m, z_range_m, density_per_mm2)?
            .feature(Feature::disk([-dx * 0.8, z_m], radius_m, 0.0))
            .feature(Feature::disk([dx * 0.8, z_m], radius_m, 2.0))
            .build(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_deterministic() {
        let a = Phantom::cyst((-0.01, 0.01), (0.01, 0.03), 0.02, 0.003, 10.0, 3).unwrap();
        let b = Phantom::cyst((-0.01, 0.01), (0.01, 0.03), 0.02, 0.003, 10.0, 3).unwrap();
        let c = Phantom::cyst((-0.01, 0.01), (0.01, 0.03), 0.02, 0.003, 10.0, 4).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn density_and_amplitude_statistics() {
        let b = SpeckleBuilder::new((0.0, 0.02), (0.0, 0.02), 25.0).unwrap();
        let ph = b.build(1).unwrap();
        assert_eq!(ph.len(), 10_000);
        let n = ph.len() as f64;
        let mean: f64 = ph.scatterers().iter().map(|s| s.amplitude as f64).sum::<f64>() / n;
        let var: f64 = ph
            .scatterers()
            .iter()
            .map(|s| (s.amplitude as f64).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.05, "{mean} {var}");
        assert!(ph.scatterers().iter().all(|s| s.position_m[1].abs() <= 0.5e-3));
    }

    #[test]
    fn hyperechoic_inclusion_is_brighter() {
        let ph = SpeckleBuilder::new((-0.01, 0.01), (0.0, 0.02), 50.0)
            .unwrap()
            .feature(Feature::disk([0.0, 0.01], 0.004, 2.0))
            .build(9)
            .unwrap();
        let (mut inside, mut outside) = (vec![], vec![]);
        for s in ph.scatterers() {
            let r = (s.position_m[0].powi(2) + (s.position_m[2] - 0.01).powi(2)).sqrt();
            if r < 0.004 {
                inside.push(s.amplitude.powi(2))
            } else {
                outside.push(s.amplitude.powi(2))
            }
        }
        let m = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((m(&inside) / m(&outside) - 4.0).abs() < 0.6);
    }

    #[test]
    fn image_phantom_follows_image() {
        let mut img = ndarray::Array2::<f32>::zeros((10, 10));
        img.slice_mut(ndarray::s![.., 5..]).fill(1.0);
        let ph = Phantom::from_image(img.view(), (0.0, 0.01), (0.0, 0.01), 100.0, 2).unwrap();
        assert!(ph.scatterers().iter().all(|s| s.position_m[0] > 0.004));
        assert!(ph.len() > 3000);
        assert!(Phantom::from_image(img.slice(ndarray::s![..1, ..]), (0.0, 1.0), (0.0, 1.0), 1.0, 0).is_err());
    }

    #[test]
    fn builtin_anatomy_and_errors() {
        for ph in [
            Phantom::vessel(2.0, 1).unwrap(),
            Phantom::abdomen(0.2, 1).unwrap(),
            Phantom::heart(0.2, 1).unwrap(),
        ] {
            assert!(ph.len() > 1000);
        }
        assert!(
            SpeckleBuilder::new((0.0, 1.0), (0.0, 1.0), 1e9)
                .unwrap()
                .build(0)
                .is_err()
        );
        assert!(SpeckleBuilder::new((1.0, 0.0), (0.0, 1.0), 1.0).is_err());
        assert!(
            SpeckleBuilder::new((0.0, 1.0), (0.0, 1.0), 1.0)
                .unwrap()
                .feature(Feature::disk([0.0, 0.0], -1.0, 0.0))
                .build(0)
                .is_err()
        );
        let r = Phantom::resolution(0.01, 0.04, 0.02, 0.002, 0.006).unwrap();
        assert_eq!(r.len(), 4 + 6);
    }

    /// Millimetres where metres are expected, and other unit mistakes, name the field and the
    /// unit instead of passing silently or blaming another field.
    #[test]
    fn unit_mistakes_name_the_field() {
        let e = SpeckleBuilder::new((-10.0, 10.0), (5.0, 40.0), 20.0).unwrap_err();
        assert_eq!(e.parameter(), Some("x_range_m"), "{e}");
        assert!(e.to_string().contains(" m"), "{e}");
        let e = SpeckleBuilder::new((-0.01, 0.01), (0.005, 0.04), 20.0)
            .unwrap()
            .feature(Feature::disk([0.0, 0.02], 3.0, 0.0))
            .build(1)
            .unwrap_err();
        assert_eq!(e.parameter(), Some("semi_axes_m"), "a 3 m cyst: {e}");
        let e = Phantom::points(&[[0.0, 0.0, 20.0]]).unwrap_err();
        assert_eq!(e.parameter(), Some("position_m"), "{e}");
        let e = Phantom::resolution(0.01, 1e30, 0.02, 0.002, 0.006).unwrap_err();
        assert_eq!(e.parameter(), Some("z_last_m"), "{e}");
        assert!(Phantom::points(&[[0.0, 0.0, 0.02]]).unwrap().scaled(f32::NAN).is_err());
        let e = SpeckleBuilder::new((-0.01, 0.01), (0.005, 0.04), 20.0)
            .unwrap()
            .point([0.0, 0.0, 0.02], f32::NAN)
            .build(1)
            .unwrap_err();
        assert_eq!(e.parameter(), Some("amplitude"), "{e}");
        let big = vec![0.0; 100_000];
        assert!(Phantom::wire_grid(&big, &big).is_err());
        let json = r#"{"scatterers":[{"position_m":[0.0,0.0,1e9],"amplitude":1.0}]}"#;
        assert!(serde_json::from_str::<Phantom>(json).is_err());
    }
}
