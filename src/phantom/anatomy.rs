//! Built-in anatomy of the clinical presets: painted speckle scenes, one per preset family, with
//! the attenuation maps of their tissues.
//!
//! Each scene is data: the lateral and depth span, the painted [`Feature`]s (later ones win), and
//! the [`AttenuationRegion`]s of its fluids and bones. Fluid is anechoic (no scatterers) and
//! carries fluid's or blood's low attenuation, so the tissue behind it is brighter (posterior
//! enhancement) because less was lost on the way, not because it is painted brighter; bone carries
//! [`BONE_DB_CM_MHZ`] and shadows what lies behind it. The lung scene has ribs, a specular pleural
//! line and its reverberations (A-lines) from [`SpecularInterface`], and nothing beneath the
//! pleura (air transmits almost nothing).

use super::{Feature, Phantom, SpeckleBuilder, SpecularInterface};
use crate::error::Result;
use crate::medium::{
    AttenuationMap, AttenuationRegion, BLOOD_DB_CM_MHZ, BONE_DB_CM_MHZ, FLUID_DB_CM_MHZ, SCANNER_C_M_S,
};

/// A built-in scene: its scatterers and the attenuation map of its tissues (simulate both:
/// `Simulator::with_attenuation(anatomy.attenuation)` and `run(&anatomy.phantom)`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Anatomy {
    /// The scatterers.
    pub phantom: Phantom,
    /// The regions whose attenuation differs from the medium's.
    pub attenuation: AttenuationMap,
}

/// Attenuation of a partly ossified fetal skull, dB/(cm·MHz) (an assumption: below adult cortical
/// bone's, so that the brain stays visible through a 2 mm parietal bone, as in second-trimester
/// scans).
const FETAL_SKULL_DB_CM_MHZ: f64 = 8.0;
/// Attenuation of brain tissue, dB/(cm·MHz).
const BRAIN_DB_CM_MHZ: f64 = 0.6;

/// Speckle over `x × z` painted with `features`, 1 mm thick, with the attenuation `regions`.
fn scene(
    x_range_m: (f64, f64),
    z_range_m: (f64, f64),
    density_per_mm2: f64,
    features: &[Feature],
    regions: &[AttenuationRegion],
    seed: u64,
) -> Result<Anatomy> {
    let builder = SpeckleBuilder::new(x_range_m, z_range_m, density_per_mm2)?.thickness(1e-3);
    let phantom = features.iter().fold(builder, |b, f| b.feature(*f)).build(seed)?;
    Ok(Anatomy {
        phantom,
        attenuation: AttenuationMap::new(regions.to_vec())?,
    })
}

impl Anatomy {
    /// A superficial vessel (vascular / MSK family): skin, fat and muscle layers over 5–40 mm, a
    /// carotid-like anechoic lumen (radius 3 mm at 18 mm depth) with a bright wall, and a smaller
    /// vein beside it; both lumens carry blood's attenuation.
    pub fn vessel(density_per_mm2: f64, seed: u64) -> Result<Anatomy> {
        let (artery, r) = ([0.002, 0.018], 0.003);
        let (vein, vein_axes) = ([-0.008, 0.014], [0.0035, 0.002]);
        scene(
            (-0.015, 0.015),
            (0.002, 0.04),
            density_per_mm2,
            &[
                Feature::layer(0.002, 0.004, 2.0),
                Feature::layer(0.004, 0.009, 0.5),
                Feature::layer(0.009, 0.03, 1.0),
                Feature::layer(0.03, 0.032, 3.0),
                Feature::annulus(artery, r, 0.0038, 3.0),
                Feature::disk(artery, r, 0.0),
                Feature::ellipse(vein, vein_axes, 0.0, 0.0),
            ],
            &[
                AttenuationRegion::disk(artery, r, BLOOD_DB_CM_MHZ),
                AttenuationRegion::ellipse(vein, vein_axes, 0.0, BLOOD_DB_CM_MHZ),
            ],
            seed,
        )
    }

    /// An abdominal organ (abdomen / OB / bladder family): a liver-like region under a bright
    /// capsule over 20–160 mm, with an anechoic gallbladder and a small simple cyst (fluid), a
    /// hyperechoic lesion and a portal vessel (blood).
    pub fn abdomen(density_per_mm2: f64, seed: u64) -> Result<Anatomy> {
        let (gallbladder, gb_axes, gb_angle) = ([-0.025, 0.07], [0.018, 0.011], 0.3);
        let (cyst, cyst_r) = ([0.02, 0.05], 0.006);
        let (portal, portal_axes, portal_angle) = ([0.0, 0.125], [0.02, 0.005], -0.2);
        scene(
            (-0.09, 0.09),
            (0.01, 0.16),
            density_per_mm2,
            &[
                Feature::layer(0.01, 0.025, 0.6),
                Feature::layer(0.025, 0.028, 3.0),
                Feature::ellipse(gallbladder, gb_axes, gb_angle, 0.0),
                Feature::disk(cyst, cyst_r, 0.0),
                Feature::disk([0.03, 0.1], 0.01, 2.5),
                Feature::ellipse(portal, portal_axes, portal_angle, 0.0),
            ],
            &[
                AttenuationRegion::ellipse(gallbladder, gb_axes, gb_angle, FLUID_DB_CM_MHZ),
                AttenuationRegion::disk(cyst, cyst_r, FLUID_DB_CM_MHZ),
                AttenuationRegion::ellipse(portal, portal_axes, portal_angle, BLOOD_DB_CM_MHZ),
            ],
            seed,
        )
    }

    /// A full bladder (bladder preset): a large anechoic bladder of urine with a bright wall
    /// behind the abdominal wall, and a uterus-like organ behind it, brightened by the bladder's
    /// posterior enhancement (from the urine's low attenuation, not painted).
    pub fn bladder(density_per_mm2: f64, seed: u64) -> Result<Anatomy> {
        let (centre, urine_axes) = ([0.0, 0.06], [0.035, 0.027]);
        scene(
            (-0.07, 0.07),
            (0.01, 0.14),
            density_per_mm2,
            &[
                Feature::layer(0.01, 0.02, 0.7),
                Feature::layer(0.02, 0.022, 2.5),
                Feature::ellipse([0.0, 0.105], [0.03, 0.014], 0.0, 0.8),
                Feature::ellipse(centre, [0.038, 0.03], 0.0, 2.5),
                Feature::ellipse(centre, urine_axes, 0.0, 0.0),
            ],
            &[AttenuationRegion::ellipse(centre, urine_axes, 0.0, FLUID_DB_CM_MHZ)],
            seed,
        )
    }

    /// An obstetric scene (OB preset): amniotic fluid (anechoic, fluid's attenuation) in a uterus
    /// with a placenta, a fetal head (a bright, partly ossified skull ring around brain tissue) and
    /// a femur (bone: a bright surface and a shadow behind it).
    pub fn obstetric(density_per_mm2: f64, seed: u64) -> Result<Anatomy> {
        let (fluid, fluid_axes) = ([0.0, 0.075], [0.06, 0.045]);
        let (head, skull_axes, brain_axes, head_angle) = ([0.012, 0.085], [0.024, 0.02], [0.022, 0.018], 0.2);
        let (femur, femur_axes, femur_angle) = ([-0.03, 0.1], [0.012, 0.0022], 0.15);
        scene(
            (-0.08, 0.08),
            (0.01, 0.14),
            density_per_mm2,
            &[
                Feature::layer(0.01, 0.025, 0.8),
                Feature::ellipse(fluid, fluid_axes, 0.0, 0.0),
                Feature::ellipse([-0.03, 0.045], [0.03, 0.008], -0.3, 1.4),
                Feature::ellipse(head, skull_axes, head_angle, 3.0),
                Feature::ellipse(head, brain_axes, head_angle, 0.4),
                Feature::ellipse(femur, femur_axes, femur_angle, 5.0),
            ],
            &[
                AttenuationRegion::ellipse(fluid, fluid_axes, 0.0, FLUID_DB_CM_MHZ),
                AttenuationRegion::ellipse(head, skull_axes, head_angle, FETAL_SKULL_DB_CM_MHZ),
                AttenuationRegion::ellipse(head, brain_axes, head_angle, BRAIN_DB_CM_MHZ),
                AttenuationRegion::ellipse(femur, femur_axes, femur_angle, BONE_DB_CM_MHZ),
            ],
            seed,
        )
    }

    /// A lung scene (lung preset, an intercostal view) for a pulse of centre frequency `fc_hz`:
    /// chest wall (skin, subcutaneous fat, a fascia, muscle) over two ribs (bright surfaces, bone's
    /// attenuation: shadows), a specular pleural
    /// line at 30 mm between them with its reverberations with the probe face (A-lines at 60, 90
    /// and 120 mm), and no tissue beneath the pleura (air transmits almost nothing).
    ///
    /// The pleura is a [`SpecularInterface`] (reflection −0.9: tissue to air is −0.9995, less the
    /// interface's roughness; probe face 0.5, an assumption) plus a thin rough band of incoherent
    /// scatterers that shows it across the sector. Beneath it the map keeps the medium's
    /// attenuation, which is what the image lines need: their echoes travelled through the chest
    /// wall, not through air.
    pub fn lung(density_per_mm2: f64, fc_hz: f64, seed: u64) -> Result<Anatomy> {
        let pleura_m = 0.03;
        let ribs = [[-0.014, 0.022], [0.014, 0.022]];
        let (rib_axes, marrow_axes, marrow_drop) = ([0.0065, 0.0032], [0.006, 0.0024], 0.0008);
        let below = |c: [f64; 2]| [c[0], c[1] + marrow_drop];
        let tissue = scene(
            (-0.08, 0.08),
            (0.005, 0.12),
            density_per_mm2,
            &[
                Feature::layer(0.005, 0.007, 1.6),
                Feature::layer(0.007, 0.012, 0.5),
                Feature::layer(0.012, 0.0128, 2.5),
                Feature::layer(pleura_m - 0.0003, pleura_m + 0.0003, 3.0),
                Feature::layer(pleura_m + 0.0003, 0.12, 0.0),
                Feature::ellipse(ribs[0], rib_axes, 0.0, 6.0),
                Feature::ellipse(below(ribs[0]), marrow_axes, 0.0, 0.5),
                Feature::ellipse(ribs[1], rib_axes, 0.0, 6.0),
                Feature::ellipse(below(ribs[1]), marrow_axes, 0.0, 0.5),
            ],
            &[
                AttenuationRegion::ellipse(ribs[0], rib_axes, 0.0, BONE_DB_CM_MHZ),
                AttenuationRegion::ellipse(ribs[1], rib_axes, 0.0, BONE_DB_CM_MHZ),
            ],
            seed,
        )?;
        let pleura = SpecularInterface {
            depth_m: pleura_m,
            x_range_m: (-0.04, 0.04),
            reflection: -0.9,
            probe_reflection: 0.5,
            reverberations: 3,
            taper_m: 0.006,
            units_per_m: LUNG_UNITS_PER_M,
        }
        .phantom(fc_hz, SCANNER_C_M_S)?;
        Ok(Anatomy {
            phantom: tissue.phantom.merged(&pleura),
            attenuation: tissue.attenuation,
        })
    }

    /// A tendon (MSK preset): a hyperechoic band of fibrils (thin bright layers) between muscle and
    /// a bone at 32 mm, for a pulse at `fc_hz`. The bone's cortex is a specular interface
    /// (soft tissue to cortical bone, R = 0.6), not a bright band of speckle: a thick band of
    /// strong random scatterers shows, under it, the plane-wave point-spread tails of every
    /// scatterer, a tent of clutter up to 5 mm deep where the aperture is one-sided; a coherent
    /// interface's tails cancel along it. Bone's attenuation beneath the cortex shadows its
    /// (weakly scattering, −10 dB) interior.
    pub fn tendon(density_per_mm2: f64, fc_hz: f64, seed: u64) -> Result<Anatomy> {
        let bone_m = 0.032;
        let fibril = |i: usize| Feature::ellipse([0.0, 0.0128 + 0.0016 * i as f64], [0.019, 0.0003], 0.05, 3.0);
        let tissue = scene(
            (-0.015, 0.015),
            (0.002, 0.045),
            density_per_mm2,
            &[
                Feature::layer(0.002, 0.005, 1.8),
                Feature::layer(0.005, bone_m, 0.8),
                Feature::ellipse([0.0, 0.016], [0.02, 0.004], 0.05, 1.2),
                fibril(0),
                fibril(1),
                fibril(2),
                fibril(3),
                fibril(4),
                Feature::layer(bone_m, 0.045, 0.3),
            ],
            &[AttenuationRegion::layer(bone_m, 0.05, BONE_DB_CM_MHZ)],
            seed,
        )?;
        let cortex = SpecularInterface {
            depth_m: bone_m,
            x_range_m: (-0.02, 0.02),
            reflection: 0.6,
            probe_reflection: 0.0,
            reverberations: 0,
            taper_m: 0.003,
            units_per_m: MSK_UNITS_PER_M,
        }
        .phantom(fc_hz, SCANNER_C_M_S)?;
        Ok(Anatomy {
            phantom: tissue.phantom.merged(&cortex),
            attenuation: tissue.attenuation,
        })
    }

    /// A peripheral nerve (nerve preset): a honeycomb of hypoechoic fascicles in a hyperechoic
    /// epineurium at 15 mm beside an anechoic artery (blood's attenuation).
    pub fn nerve(density_per_mm2: f64, seed: u64) -> Result<Anatomy> {
        let (nerve, artery, lumen) = ([-0.002, 0.015], [0.007, 0.017], 0.0028);
        let fascicle = |dx: f64, dz: f64| Feature::disk([nerve[0] + dx, nerve[1] + dz], 0.0009, 0.3);
        scene(
            (-0.015, 0.015),
            (0.002, 0.035),
            density_per_mm2,
            &[
                Feature::layer(0.002, 0.004, 1.8),
                Feature::ellipse(nerve, [0.005, 0.0035], 0.0, 2.5),
                fascicle(-0.0025, -0.001),
                fascicle(0.0, -0.0015),
                fascicle(0.0025, -0.001),
                fascicle(-0.003, 0.0012),
                fascicle(0.0, 0.001),
                fascicle(0.003, 0.0013),
                Feature::annulus(artery, lumen, 0.0034, 2.5),
                Feature::disk(artery, lumen, 0.0),
            ],
            &[AttenuationRegion::disk(artery, lumen, BLOOD_DB_CM_MHZ)],
            seed,
        )
    }
}

/// Phantom units per metre of the lung's pleural interface (`SpecularInterface::units_per_m`):
/// chosen by eye, so that the pleural line and the first A-line stand out white above the chest
/// wall's speckle in the lung preset's 55 dB display (the unit of speckle amplitude is arbitrary).
const LUNG_UNITS_PER_M: f64 = 1e3;

/// The lung preset's centre frequency, Hz (the wavelength of [`Phantom::lung`]'s pleural line).
const LUNG_FC_HZ: f64 = 3e6;
/// Level of the MSK bone cortex's interface against the speckle (see [`LUNG_UNITS_PER_M`]).
const MSK_UNITS_PER_M: f64 = 1e3;
/// The MSK preset's centre frequency, for [`Phantom::tendon`].
const MSK_FC_HZ: f64 = 6e6;

impl Phantom {
    /// The scatterers of [`Anatomy::vessel`].
    pub fn vessel(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        Ok(Anatomy::vessel(density_per_mm2, seed)?.phantom)
    }

    /// The scatterers of [`Anatomy::abdomen`].
    pub fn abdomen(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        Ok(Anatomy::abdomen(density_per_mm2, seed)?.phantom)
    }

    /// The scatterers of [`Anatomy::bladder`].
    pub fn bladder(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        Ok(Anatomy::bladder(density_per_mm2, seed)?.phantom)
    }

    /// The scatterers of [`Anatomy::obstetric`].
    pub fn obstetric(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        Ok(Anatomy::obstetric(density_per_mm2, seed)?.phantom)
    }

    /// The scatterers of [`Anatomy::lung`] at the lung preset's 3 MHz.
    pub fn lung(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        Ok(Anatomy::lung(density_per_mm2, LUNG_FC_HZ, seed)?.phantom)
    }

    /// The scatterers of [`Anatomy::tendon`].
    pub fn tendon(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        Ok(Anatomy::tendon(density_per_mm2, MSK_FC_HZ, seed)?.phantom)
    }

    /// The scatterers of [`Anatomy::nerve`].
    pub fn nerve(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        Ok(Anatomy::nerve(density_per_mm2, seed)?.phantom)
    }
}
