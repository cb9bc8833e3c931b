//! Built-in anatomy of the clinical presets: painted speckle scenes, one per preset family.

use super::{Feature, Phantom, SpeckleBuilder};
use crate::error::Result;

impl Phantom {
    /// A superficial vessel (vascular / MSK family): skin, fat and muscle layers over 5–40 mm, a
    /// carotid-like anechoic lumen (radius 3 mm at 18 mm depth) with a bright wall, and a smaller
    /// vein beside it.
    pub fn vessel(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        SpeckleBuilder::new((-0.015, 0.015), (0.002, 0.04), density_per_mm2)?
            .thickness(1e-3)
            .feature(Feature::Layer {
                z_top_m: 0.002,
                z_bottom_m: 0.004,
                echogenicity: 2.0,
            })
            .feature(Feature::Layer {
                z_top_m: 0.004,
                z_bottom_m: 0.009,
                echogenicity: 0.5,
            })
            .feature(Feature::Layer {
                z_top_m: 0.009,
                z_bottom_m: 0.03,
                echogenicity: 1.0,
            })
            .feature(Feature::Layer {
                z_top_m: 0.03,
                z_bottom_m: 0.032,
                echogenicity: 3.0,
            })
            .feature(Feature::Annulus {
                center_m: [0.002, 0.018],
                inner_m: 0.003,
                outer_m: 0.0038,
                echogenicity: 3.0,
            })
            .feature(Feature::disk([0.002, 0.018], 0.003, 0.0))
            .feature(Feature::Ellipse {
                center_m: [-0.008, 0.014],
                semi_axes_m: [0.0035, 0.002],
                angle_rad: 0.0,
                echogenicity: 0.0,
            })
            .build(seed)
    }

    /// An abdominal organ (abdomen / OB / bladder family): a liver-like region under a bright
    /// capsule over 20–160 mm, with an anechoic gallbladder, a hyperechoic lesion and a portal vessel.
    pub fn abdomen(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        SpeckleBuilder::new((-0.09, 0.09), (0.01, 0.16), density_per_mm2)?
            .thickness(1e-3)
            .feature(Feature::Layer {
                z_top_m: 0.01,
                z_bottom_m: 0.025,
                echogenicity: 0.6,
            })
            .feature(Feature::Layer {
                z_top_m: 0.025,
                z_bottom_m: 0.028,
                echogenicity: 3.0,
            })
            .feature(Feature::Ellipse {
                center_m: [-0.025, 0.07],
                semi_axes_m: [0.018, 0.011],
                angle_rad: 0.3,
                echogenicity: 0.0,
            })
            .feature(Feature::disk([0.03, 0.1], 0.01, 2.5))
            .feature(Feature::Ellipse {
                center_m: [0.0, 0.125],
                semi_axes_m: [0.02, 0.005],
                angle_rad: -0.2,
                echogenicity: 0.0,
            })
            .build(seed)
    }

    /// A full bladder (bladder preset): a large anechoic bladder with a bright posterior wall behind
    /// the abdominal wall, with posterior acoustic enhancement modelled as brighter tissue below it.
    pub fn bladder(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        SpeckleBuilder::new((-0.07, 0.07), (0.01, 0.14), density_per_mm2)?
            .thickness(1e-3)
            .feature(Feature::Layer {
                z_top_m: 0.01,
                z_bottom_m: 0.02,
                echogenicity: 0.7,
            })
            .feature(Feature::Layer {
                z_top_m: 0.02,
                z_bottom_m: 0.022,
                echogenicity: 2.5,
            })
            .feature(Feature::Ellipse {
                center_m: [0.0, 0.08],
                semi_axes_m: [0.04, 0.03],
                angle_rad: 0.0,
                echogenicity: 1.6,
            })
            .feature(Feature::Ellipse {
                center_m: [0.0, 0.06],
                semi_axes_m: [0.038, 0.03],
                angle_rad: 0.0,
                echogenicity: 2.5,
            })
            .feature(Feature::Ellipse {
                center_m: [0.0, 0.06],
                semi_axes_m: [0.035, 0.027],
                angle_rad: 0.0,
                echogenicity: 0.0,
            })
            .build(seed)
    }

    /// An obstetric scene (OB preset): amniotic fluid (anechoic) in a uterus with a fetal head
    /// (bright skull ring around brain tissue) and a placenta.
    pub fn obstetric(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        SpeckleBuilder::new((-0.08, 0.08), (0.01, 0.14), density_per_mm2)?
            .thickness(1e-3)
            .feature(Feature::Layer {
                z_top_m: 0.01,
                z_bottom_m: 0.025,
                echogenicity: 0.8,
            })
            .feature(Feature::Ellipse {
                center_m: [0.0, 0.075],
                semi_axes_m: [0.06, 0.045],
                angle_rad: 0.0,
                echogenicity: 0.0,
            })
            .feature(Feature::Ellipse {
                center_m: [-0.03, 0.045],
                semi_axes_m: [0.03, 0.008],
                angle_rad: -0.3,
                echogenicity: 1.4,
            })
            .feature(Feature::Ellipse {
                center_m: [0.012, 0.085],
                semi_axes_m: [0.024, 0.02],
                angle_rad: 0.2,
                echogenicity: 3.0,
            })
            .feature(Feature::Ellipse {
                center_m: [0.012, 0.085],
                semi_axes_m: [0.021, 0.017],
                angle_rad: 0.2,
                echogenicity: 0.4,
            })
            .build(seed)
    }

    /// A lung scene (lung preset): chest wall over a bright pleural line at 25 mm with two rib
    /// shadows (no scatterers below the ribs) and weak aerated lung below the pleura.
    pub fn lung(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        SpeckleBuilder::new((-0.08, 0.08), (0.005, 0.12), density_per_mm2)?
            .thickness(1e-3)
            .feature(Feature::Layer {
                z_top_m: 0.005,
                z_bottom_m: 0.025,
                echogenicity: 1.0,
            })
            .feature(Feature::Layer {
                z_top_m: 0.025,
                z_bottom_m: 0.027,
                echogenicity: 5.0,
            })
            .feature(Feature::Layer {
                z_top_m: 0.027,
                z_bottom_m: 0.12,
                echogenicity: 0.25,
            })
            .feature(Feature::Ellipse {
                center_m: [-0.02, 0.018],
                semi_axes_m: [0.006, 0.003],
                angle_rad: 0.0,
                echogenicity: 4.0,
            })
            .feature(Feature::Ellipse {
                center_m: [0.022, 0.018],
                semi_axes_m: [0.006, 0.003],
                angle_rad: 0.0,
                echogenicity: 4.0,
            })
            .build(seed)
    }

    /// A tendon (MSK preset): a hyperechoic band of fibrils (thin bright layers) between muscle and a
    /// bright bone surface at 32 mm.
    pub fn tendon(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        let mut b = SpeckleBuilder::new((-0.015, 0.015), (0.002, 0.045), density_per_mm2)?
            .thickness(1e-3)
            .feature(Feature::Layer {
                z_top_m: 0.002,
                z_bottom_m: 0.005,
                echogenicity: 1.8,
            })
            .feature(Feature::Layer {
                z_top_m: 0.005,
                z_bottom_m: 0.032,
                echogenicity: 0.8,
            })
            .feature(Feature::Ellipse {
                center_m: [0.0, 0.016],
                semi_axes_m: [0.02, 0.004],
                angle_rad: 0.05,
                echogenicity: 1.2,
            });
        for i in 0..5 {
            let z = 0.0128 + 0.0016 * i as f64;
            b = b.feature(Feature::Ellipse {
                center_m: [0.0, z],
                semi_axes_m: [0.019, 0.0003],
                angle_rad: 0.05,
                echogenicity: 3.0,
            });
        }
        b.feature(Feature::Layer {
            z_top_m: 0.032,
            z_bottom_m: 0.0335,
            echogenicity: 6.0,
        })
        .feature(Feature::Layer {
            z_top_m: 0.0335,
            z_bottom_m: 0.045,
            echogenicity: 0.0,
        })
        .build(seed)
    }

    /// A peripheral nerve (nerve preset): a honeycomb of hypoechoic fascicles in a hyperechoic
    /// epineurium at 15 mm beside an anechoic artery.
    pub fn nerve(density_per_mm2: f64, seed: u64) -> Result<Phantom> {
        let mut b = SpeckleBuilder::new((-0.015, 0.015), (0.002, 0.035), density_per_mm2)?
            .thickness(1e-3)
            .feature(Feature::Layer {
                z_top_m: 0.002,
                z_bottom_m: 0.004,
                echogenicity: 1.8,
            })
            .feature(Feature::Ellipse {
                center_m: [-0.002, 0.015],
                semi_axes_m: [0.005, 0.0035],
                angle_rad: 0.0,
                echogenicity: 2.5,
            });
        for (dx, dz) in [
            (-0.0025, -0.001),
            (0.0, -0.0015),
            (0.0025, -0.001),
            (-0.003, 0.0012),
            (0.0, 0.001),
            (0.003, 0.0013),
        ] {
            b = b.feature(Feature::disk([-0.002 + dx, 0.015 + dz], 0.0009, 0.3));
        }
        b.feature(Feature::Annulus {
            center_m: [0.007, 0.017],
            inner_m: 0.0028,
            outer_m: 0.0034,
            echogenicity: 2.5,
        })
        .feature(Feature::disk([0.007, 0.017], 0.0028, 0.0))
        .build(seed)
    }
}
