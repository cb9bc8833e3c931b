//! The cardiac preset's heart: an apical four-chamber view as a table of regions, drawn part by part
//! so that each part can move on its own (M-mode, Doppler).
//!
//! The view is the one a phased array on the chest wall sees with the apex at the top of the
//! sector: the left ventricle on the right of the image and the right ventricle on the left,
//! separated by the interventricular septum; the atria below them, separated by the thin
//! interatrial septum; the mitral and tricuspid leaflets hanging from the atrioventricular plane
//! into the ventricles; a bright pericardium around the myocardium; the chest wall above; the
//! descending aorta in cross-section behind the left atrium. Sizes are an adult's at end-diastole
//! (left ventricle about 80 mm long and 34 mm wide, septum and walls 8–10 mm, atria about 32 mm
//! across), a textbook geometry rather than a measured patient's.
//!
//! Each [`HeartPart`] is a list of [`Feature`]s painted in order (the last one containing a point
//! decides its echogenicity) over the whole scene, so the parts tile the plane without overlap:
//! the part owning a point is the one whose echogenicity there is not zero. Blood scatters
//! 40 dB below the myocardium (echogenicity 0.01).

use super::{Anatomy, Feature, Phantom, SpeckleBuilder};
use crate::error::Result;
use crate::medium::{AttenuationMap, AttenuationRegion, BLOOD_DB_CM_MHZ};

/// The scene's extent: x (lateral) and z (depth), metres.
const X_RANGE_M: (f64, f64) = (-0.11, 0.11);
const Z_RANGE_M: (f64, f64) = (0.01, 0.16);
/// Slice thickness (elevation), metres.
const THICKNESS_M: f64 = 1e-3;
/// Echogenicity of blood: −40 dB relative to the myocardium.
pub const BLOOD_ECHOGENICITY: f64 = 0.01;

/// A part of the heart scene that can move on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeartPart {
    /// Chest wall, and the tissue around the heart (lung-free window).
    Surroundings,
    /// Pericardium, ventricular and atrial walls and both septa.
    Myocardium,
    /// Mitral and tricuspid leaflets.
    Valves,
    /// Blood in the four chambers and the aorta.
    Blood,
}

impl HeartPart {
    /// Every part, in the order [`Phantom::heart`] merges them.
    pub const ALL: [HeartPart; 4] = [
        HeartPart::Surroundings,
        HeartPart::Myocardium,
        HeartPart::Valves,
        HeartPart::Blood,
    ];
}

/// What a region of the scene is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tissue {
    Surroundings,
    Pericardium,
    Myocardium,
    Valve,
    Blood,
}

impl Tissue {
    fn part(self) -> HeartPart {
        match self {
            Tissue::Surroundings => HeartPart::Surroundings,
            Tissue::Pericardium | Tissue::Myocardium => HeartPart::Myocardium,
            Tissue::Valve => HeartPart::Valves,
            Tissue::Blood => HeartPart::Blood,
        }
    }

    fn echogenicity(self) -> f64 {
        match self {
            Tissue::Surroundings => 0.6,
            Tissue::Pericardium => 4.0,
            Tissue::Myocardium => 1.0,
            Tissue::Valve => 4.0,
            Tissue::Blood => BLOOD_ECHOGENICITY,
        }
    }
}

/// An ellipse of the table: centre (x, z), semi-axes (x, z) before rotation, rotation (radians).
type Shape = ([f64; 2], [f64; 2], f64);

/// The scene, painted in order (the last region containing a point wins); everything else is
/// [`Tissue::Surroundings`].
const SCENE: &[(Tissue, Shape)] = &[
    // The heart's outline: pericardium, then the myocardium inside it.
    (Tissue::Pericardium, ([0.002, 0.097], [0.051, 0.071], 0.0)),
    (Tissue::Myocardium, ([0.002, 0.097], [0.047, 0.067], 0.0)),
    // Ventricles: the left on the image's right, the right on its left, apices toward the top.
    (Tissue::Blood, ([0.02, 0.076], [0.016, 0.037], -0.12)),
    (Tissue::Blood, ([-0.018, 0.081], [0.013, 0.031], 0.18)),
    // Atria below the atrioventricular plane (z ≈ 0.115).
    (Tissue::Blood, ([0.019, 0.133], [0.016, 0.015], 0.0)),
    (Tissue::Blood, ([-0.018, 0.131], [0.014, 0.014], 0.0)),
    // Mitral leaflets (anterior, posterior) and tricuspid leaflets (septal, anterior), hanging
    // from the annulus into the ventricles.
    (Tissue::Valve, ([0.012, 0.108], [0.0016, 0.009], 0.3)),
    (Tissue::Valve, ([0.029, 0.109], [0.0016, 0.007], -0.35)),
    (Tissue::Valve, ([-0.01, 0.108], [0.0015, 0.007], -0.3)),
    (Tissue::Valve, ([-0.026, 0.109], [0.0015, 0.006], 0.35)),
    // Descending aorta in cross-section behind the left atrium: wall, then lumen.
    (Tissue::Myocardium, ([0.034, 0.153], [0.0105, 0.0105], 0.0)),
    (Tissue::Blood, ([0.034, 0.153], [0.008, 0.008], 0.0)),
];

/// The chest wall: a layer from the skin to 28 mm.
const CHEST_WALL: (f64, f64) = (0.01, 0.028);

/// The scene's features painted for `part`: the whole scene, each region at its tissue's
/// echogenicity where it belongs to `part` and 0 elsewhere.
fn features(part: HeartPart) -> Vec<Feature> {
    let on = |t: Tissue| if t.part() == part { t.echogenicity() } else { 0.0 };
    let mut f = vec![Feature::Layer {
        z_top_m: Z_RANGE_M.0,
        z_bottom_m: Z_RANGE_M.1,
        echogenicity: on(Tissue::Surroundings),
    }];
    f.push(Feature::Layer {
        z_top_m: CHEST_WALL.0,
        z_bottom_m: CHEST_WALL.1,
        echogenicity: on(Tissue::Surroundings) * 0.9,
    });
    f.extend(
        SCENE
            .iter()
            .map(|&(t, (center_m, semi_axes_m, angle_rad))| Feature::Ellipse {
                center_m,
                semi_axes_m,
                angle_rad,
                echogenicity: on(t),
            }),
    );
    f
}

impl Phantom {
    /// One part of the apical four-chamber heart (see [`heart`](super::heart)): speckle at
    /// `density_per_mm2` over the scene, kept where `part` owns the point. The parts of one seed
    /// share their scatterers' positions, so together they are [`Phantom::heart`].
    ///
    /// ```
    /// use sonochip::phantom::motion::{Motion, MovingPhantom};
    /// use sonochip::phantom::{HeartPart, Phantom};
    /// # fn main() -> sonochip::Result<()> {
    /// // The walls and septum beat 4 mm in depth at 75 beats per minute; the rest stays.
    /// let (d, seed) = (0.02, 1);
    /// let mut heart = MovingPhantom::still(Phantom::heart_part(HeartPart::Surroundings, d, seed)?);
    /// let wall = Motion::Oscillation { amplitude_m: [0.0, 0.0, 0.004], period_s: 0.8 };
    /// heart.push(Phantom::heart_part(HeartPart::Myocardium, d, seed)?, wall.clone())?;
    /// heart.push(Phantom::heart_part(HeartPart::Valves, d, seed)?, wall)?;
    /// let systole = heart.at(0.2)?;
    /// assert!(systole.len() > 0);
    /// # Ok(()) }
    /// ```
    pub fn heart_part(part: HeartPart, density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        features(part)
            .into_iter()
            .fold(
                SpeckleBuilder::new(X_RANGE_M, Z_RANGE_M, density_per_mm2)?.thickness(THICKNESS_M),
                SpeckleBuilder::feature,
            )
            .build(seed)
    }

    /// The cardiac preset's heart, an apical four-chamber view (see [`heart`](super::heart)):
    /// every [`HeartPart`] merged.
    pub fn heart(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        let mut all = Phantom::default();
        for part in HeartPart::ALL {
            all = all.merged(&Phantom::heart_part(part, density_per_mm2, seed)?);
        }
        Ok(all)
    }
}

impl Anatomy {
    /// The cardiac preset's scene: [`Phantom::heart`] with blood's attenuation
    /// ([`BLOOD_DB_CM_MHZ`]) in the four chambers and the aorta, so that the tissue behind the
    /// blood is brighter than behind the walls: against soft tissue's 0.5 dB/(cm·MHz), the round
    /// trip gains 2·0.32·f·chord, 1.6 dB per cm of blood at 2.5 MHz (about 5 dB across a
    /// ventricle, 10 dB down the left ventricle's long axis and the left atrium).
    pub fn heart(density_per_mm2: f64, seed: u64) -> Result<Anatomy> {
        let blood = SCENE
            .iter()
            .filter(|(t, _)| *t == Tissue::Blood)
            .map(|&(_, (center_m, semi_axes_m, angle_rad))| AttenuationRegion::Ellipse {
                center_m,
                semi_axes_m,
                angle_rad,
                attenuation_db_cm_mhz: BLOOD_DB_CM_MHZ,
            })
            .collect();
        Ok(Anatomy {
            phantom: Phantom::heart(density_per_mm2, seed)?,
            attenuation: AttenuationMap::new(blood)?,
        })
    }
}

/// The tissue at `(x, z)` (tests and docs).
#[cfg(test)]
fn tissue_at(x: f64, z: f64) -> Tissue {
    SCENE
        .iter()
        .rev()
        .find(|(_, (c, a, r))| {
            Feature::Ellipse {
                center_m: *c,
                semi_axes_m: *a,
                angle_rad: *r,
                echogenicity: 1.0,
            }
            .contains(x, z)
        })
        .map_or(Tissue::Surroundings, |(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The landmarks a sonographer looks for in an apical four-chamber view are where the anatomy
    /// puts them: septum between the ventricles (8–10 mm thick at mid-ventricle), the left
    /// ventricle on the image's right, atria below the valves, walls around the cavities.
    #[test]
    fn landmarks_of_the_four_chamber_view() {
        use Tissue::*;
        // Mid-ventricular level: RV cavity, septum, LV cavity, lateral wall, pericardium.
        let z = 0.078;
        let row: Vec<Tissue> = (-60..=60).map(|i| tissue_at(i as f64 * 1e-3, z)).collect();
        let runs = row.iter().fold(Vec::<(Tissue, usize)>::new(), |mut v, t| {
            match v.last_mut() {
                Some((u, n)) if u == t => *n += 1,
                _ => v.push((*t, 1)),
            }
            v
        });
        let kinds: Vec<Tissue> = runs.iter().map(|r| r.0).collect();
        assert_eq!(
            kinds,
            [
                Surroundings,
                Pericardium,
                Myocardium,
                Blood,
                Myocardium,
                Blood,
                Myocardium,
                Pericardium,
                Surroundings
            ],
            "{runs:?}"
        );
        let septum_mm = runs[4].1;
        assert!((7..=11).contains(&septum_mm), "septum {septum_mm} mm");
        // The left ventricle (right of the image) is the larger cavity.
        assert!(runs[5].1 > runs[3].1, "{runs:?}");
        // Atria below the atrioventricular plane, the leaflets between.
        assert_eq!(tissue_at(0.019, 0.133), Blood);
        assert_eq!(tissue_at(-0.018, 0.131), Blood);
        assert_eq!(tissue_at(0.0, 0.133), Myocardium, "interatrial septum");
        assert_eq!(tissue_at(0.012, 0.108), Valve);
        assert_eq!(tissue_at(0.0, 0.02), Surroundings);
    }

    /// The parts tile the scene: merged, they are the heart, and each scatterer belongs to one.
    #[test]
    fn parts_tile_the_heart() {
        let d = 0.05;
        let whole = Phantom::heart(d, 7).unwrap();
        let sum: usize = HeartPart::ALL
            .iter()
            .map(|&p| Phantom::heart_part(p, d, 7).unwrap().len())
            .sum();
        assert_eq!(whole.len(), sum);
        let all = SpeckleBuilder::new(X_RANGE_M, Z_RANGE_M, d).unwrap().count() as usize;
        assert_eq!(sum, all, "every drawn scatterer belongs to exactly one part");
        let blood = Phantom::heart_part(HeartPart::Blood, d, 7).unwrap();
        let rms = (blood
            .scatterers()
            .iter()
            .map(|s| (s.amplitude as f64).powi(2))
            .sum::<f64>()
            / blood.len() as f64)
            .sqrt();
        // Unit-variance speckle times the blood's echogenicity: −40 dB against the myocardium's 1.
        let db = 20.0 * rms.log10();
        assert!(
            (-41.5..-38.5).contains(&db),
            "blood at {db:.1} dB ({} scatterers)",
            blood.len()
        );
    }
}
