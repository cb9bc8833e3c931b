use sonochip::medium::Medium;
use sonochip::phantom::SpeckleBuilder;
use sonochip::probe::{Aperture, Probe};
use sonochip::pulse::Pulse;
use sonochip::sequence::Sequence;
use sonochip::sim::{Sampling, Simulator};
fn main() {
    let probe = Probe::cmut_9000();
    let ap = Aperture::full(&probe, Some(0.07)).unwrap();
    let seq = Sequence::diverging_sector(&ap, 30f64.to_radians(), 10f64.to_radians(), 5, 1540.0).unwrap();
    let pulse = Pulse::new(3.5e6, 1.0, 1.0).unwrap();
    let sampling = Sampling::for_depth(14e6, 0.16, &seq, &pulse).unwrap();
    let sim = Simulator::new(&ap, &seq, Medium::soft_tissue(), pulse, sampling).unwrap();
    let phantom = SpeckleBuilder::new((-0.08, 0.08), (0.02, 0.16), 20_000.0 / (160.0 * 140.0))
        .unwrap()
        .thickness(3e-3)
        .build(1)
        .unwrap();
    println!("{} scatterers, {} samples", phantom.len(), sampling.n_samples);
    let t = std::time::Instant::now();
    let rf = sim.run(&phantom).unwrap();
    println!("{:?} {}", t.elapsed(), rf.data().len());
}
