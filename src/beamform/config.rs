//! The options of a beamformer plan and the choice of kernel.

use super::apodization::Window;
use crate::error::{DEFAULT_MEMORY_CAP_BYTES, Error, Result};
pub use crate::simd::KernelChoice;

/// How a trace is read between samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Interpolation {
    /// The nearest sample.
    Nearest,
    /// Linear between the two neighbouring samples.
    #[default]
    Linear,
    /// Cubic convolution (Catmull-Rom / Keys a = −0.5) over four samples.
    Cubic,
}

/// The kernel a plan runs (resolved from [`KernelChoice`]; a variant exists only where its code
/// is compiled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "aarch64")]
    Neon,
}

impl Kernel {
    /// The kernel `choice` names on this CPU, or an error naming what the CPU offers.
    pub(crate) fn resolve(choice: KernelChoice) -> Result<Kernel> {
        let choice = match choice {
            KernelChoice::Auto => KernelChoice::best(),
            c => c,
        };
        let supported = KernelChoice::supported();
        if !supported.contains(&choice) {
            return Err(Error::Unsupported {
                name: "kernel",
                requested: format!("{choice:?}"),
                available: format!("{supported:?}"),
            });
        }
        match choice {
            #[cfg(target_arch = "x86_64")]
            KernelChoice::Avx2 => Ok(Kernel::Avx2),
            #[cfg(target_arch = "x86_64")]
            KernelChoice::Avx512 => Ok(Kernel::Avx512),
            #[cfg(target_arch = "aarch64")]
            KernelChoice::Neon => Ok(Kernel::Neon),
            _ => Ok(Kernel::Scalar),
        }
    }

    /// The public name of this kernel.
    pub(crate) fn choice(self) -> KernelChoice {
        match self {
            Kernel::Scalar => KernelChoice::Scalar,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => KernelChoice::Avx2,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => KernelChoice::Avx512,
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => KernelChoice::Neon,
        }
    }
}

/// Options of a beamformer plan.
#[derive(Debug, Clone, PartialEq)]
pub struct BeamformConfig {
    /// Interpolation between samples (default linear).
    pub interpolation: Interpolation,
    /// Receive F-number (`None`: the whole aperture at every depth). Must be > 0.
    pub f_number: Option<f64>,
    /// Window over the F-number aperture (ignored, i.e. rectangular, without an F-number).
    pub window: Window,
    /// Largest angle between a channel's normal and the direction to the pixel, radians in
    /// `[0.001, π/2]` (`None`: no limit).
    pub acceptance_angle_rad: Option<f64>,
    /// One weight per transmit (finite); `None`: all 1.
    pub tx_weights: Option<Vec<f32>>,
    /// Half-width of the focal zone of focused transmits, in wavelengths (> 0; default 2); see the
    /// [module docs](super).
    pub focal_zone_wavelengths: f64,
    /// Weight every pixel by its coherence factor `CF = |Σ s_c|² / (N · Σ |s_c|²)` (`s_c` the
    /// apodized, compounded signal of channel `c`, `N` the channels taking part; 0 where nothing
    /// takes part), which darkens incoherent clutter and side lobes. At most
    /// [`MAX_CF_TRANSMITS`](super::MAX_CF_TRANSMITS) transmits. Default off.
    pub coherence_factor: bool,
    /// The speed of sound the beamformer assumes, m/s (300–5000; `None`: the sequence's). Both the
    /// receive paths and the transmit model (the wave's geometry travelling at this speed) use it.
    pub sound_speed_m_s: Option<f64>,
    /// Which kernel runs (default: the fastest available).
    pub kernel: KernelChoice,
    /// Largest memory the plan may allocate, bytes (checked before anything is allocated).
    pub memory_cap_bytes: u64,
}

impl Default for BeamformConfig {
    fn default() -> Self {
        BeamformConfig {
            interpolation: Interpolation::Linear,
            f_number: None,
            window: Window::Rectangular,
            acceptance_angle_rad: None,
            tx_weights: None,
            focal_zone_wavelengths: 2.0,
            coherence_factor: false,
            sound_speed_m_s: None,
            kernel: KernelChoice::Auto,
            memory_cap_bytes: DEFAULT_MEMORY_CAP_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_choice_resolves() {
        assert_eq!(Kernel::resolve(KernelChoice::Scalar), Ok(Kernel::Scalar));
        assert!(Kernel::resolve(KernelChoice::Auto).is_ok());
        assert_eq!(
            Kernel::resolve(KernelChoice::Auto).unwrap().choice(),
            KernelChoice::best()
        );
        // Auto prefers AVX-512 where the CPU has it (measured faster than AVX2 on every workload).
        if KernelChoice::supported().contains(&KernelChoice::Avx512) {
            assert_eq!(KernelChoice::best(), KernelChoice::Avx512);
        }
        for k in [KernelChoice::Avx2, KernelChoice::Avx512, KernelChoice::Neon] {
            let r = Kernel::resolve(k);
            assert_eq!(r.is_ok(), KernelChoice::supported().contains(&k));
            if let Err(e) = r {
                assert!(matches!(e, Error::Unsupported { name: "kernel", .. }), "{e}");
            }
        }
    }
}
