//! The choice of instruction set for the crate's inner loops (beamformer and simulator): which
//! ones this CPU offers, detected at run time. The lowest layer beside [`error`](crate::error):
//! every stage that has SIMD loops takes a [`KernelChoice`].

/// Which instruction set a kernel runs on: the beamformer's loops (`BeamformConfig::kernel`) and
/// the simulator's (`SimOptions::kernel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KernelChoice {
    /// The fastest kernel the CPU supports: AVX-512 where the CPU has it, else AVX2, else NEON,
    /// else the scalar kernel ([`KernelChoice::best`]).
    #[default]
    Auto,
    /// The scalar reference kernel (every CPU; the oracle the SIMD kernels are tested against).
    Scalar,
    /// AVX2 + FMA, 8 lanes per vector (x86-64); an error if the CPU lacks them.
    Avx2,
    /// AVX-512 (F, DQ, VL) + FMA, 16 lanes per vector (x86-64); an error if the CPU lacks them.
    Avx512,
    /// NEON (aarch64). It currently runs the scalar kernel's code, which the compiler vectorises in
    /// part; an error on other architectures.
    Neon,
}

impl KernelChoice {
    /// The explicit kernels this CPU can run, slowest first (always starts with `Scalar`).
    pub fn supported() -> Vec<KernelChoice> {
        #[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(unused_mut))]
        let mut v = vec![KernelChoice::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                v.push(KernelChoice::Avx2);
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    v.push(KernelChoice::Avx512);
                }
            }
        }
        #[cfg(target_arch = "aarch64")]
        v.push(KernelChoice::Neon);
        v
    }

    /// The kernel `Auto` resolves to on this CPU: the last of [`KernelChoice::supported`].
    pub fn best() -> KernelChoice {
        *Self::supported().last().unwrap_or(&KernelChoice::Scalar)
    }
}
