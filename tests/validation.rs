//! The validation numbers of simulated phantoms stay within the bounds that follow from the physics in `docs/physics.md`
//! (the same computation as `examples/validate.rs`, on the PICMUS-like probe with 11 plane waves).

use sonochip::validation::{ValidationOptions, validate};
use sonochip::workload::Workload;

#[test]
fn picmus_11_plane_waves_meets_the_physics_bounds() {
    let o = ValidationOptions {
        speckle_half_width_m: 0.0055,
        ..ValidationOptions::default()
    };
    let r = validate("PICMUS 11 PW", &Workload::picmus(11).unwrap().acquisition, &o).unwrap();
    eprintln!("{r:#?}");
    let lambda_mm = r.wavelength_mm;
    assert!(
        r.lateral_fwhm_mm >= r.lateral_two_way_mm && r.lateral_fwhm_mm <= r.lateral_one_way_mm * 1.1,
        "lateral FWHM {:.3} mm outside [{:.3}, {:.3}]",
        r.lateral_fwhm_mm,
        r.lateral_two_way_mm,
        r.lateral_one_way_mm * 1.1
    );
    assert!(
        r.max_position_error_mm < lambda_mm / 4.0,
        "position error {:.3} mm",
        r.max_position_error_mm
    );
    assert!(r.cr_db < -20.0, "anechoic cyst CR {:.1} dB", r.cr_db);
    assert!(r.gcnr >= 0.9, "gCNR {:.3}", r.gcnr);
    assert!((r.speckle_snr - 1.91).abs() <= 0.15, "speckle SNR {:.3}", r.speckle_snr);
}
