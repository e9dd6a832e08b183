//! Test signals and measurements for audio checks: sine and chirp generators, a Goertzel tone
//! detector, the longest gap in a recording, and a cross-correlation delay estimator for
//! mouth-to-ear latency.
//!
//! Everything here is pure: samples in, numbers out.

use std::f64::consts::PI;
use std::time::Duration;

use crate::level::{rms_dbfs, SILENCE_DBFS};
use crate::SAMPLE_RATE;

/// A continuous sine wave, generated frame by frame without phase jumps.
#[derive(Debug, Clone)]
pub struct SineGenerator {
    phase: f64,
    step: f64,
    amplitude: f32,
}

impl SineGenerator {
    /// A sine of `freq` Hz at `rate` samples/s with peak `amplitude` (1.0 = full scale).
    pub fn new(freq: f32, rate: u32, amplitude: f32) -> Self {
        Self { phase: 0.0, step: 2.0 * PI * f64::from(freq) / f64::from(rate.max(1)), amplitude }
    }

    /// Fill `out` with the next samples.
    pub fn fill(&mut self, out: &mut [f32]) {
        for s in out {
            *s = self.amplitude * self.phase.sin() as f32;
            self.phase = (self.phase + self.step) % (2.0 * PI);
        }
    }
}

/// `duration` of a sine of `freq` Hz with peak `amplitude`.
pub fn sine(freq: f32, rate: u32, duration: Duration, amplitude: f32) -> Vec<f32> {
    let mut out = vec![0.0; samples_in(duration, rate)];
    SineGenerator::new(freq, rate, amplitude).fill(&mut out);
    out
}

/// A linear chirp from `f0` to `f1` Hz: broadband, so it has one sharp cross-correlation
/// peak (a sine repeats every period and so matches at many lags). Use it with
/// [`estimate_delay`].
pub fn chirp(f0: f32, f1: f32, rate: u32, duration: Duration, amplitude: f32) -> Vec<f32> {
    let n = samples_in(duration, rate);
    let t_total = duration.as_secs_f64().max(f64::EPSILON);
    let k = (f64::from(f1) - f64::from(f0)) / t_total;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate.max(1));
            let phase = 2.0 * PI * (f64::from(f0) * t + 0.5 * k * t * t);
            amplitude * phase.sin() as f32
        })
        .collect()
}

/// Number of samples in `duration` at `rate`.
pub fn samples_in(duration: Duration, rate: u32) -> usize {
    (duration.as_secs_f64() * f64::from(rate)).round() as usize
}

fn duration_of(samples: usize, rate: u32) -> Duration {
    Duration::from_secs_f64(samples as f64 / f64::from(rate.max(1)))
}

/// The level of the `freq` Hz component of `samples`, in dB relative to a full-scale sine
/// (a sine of peak amplitude A gives `20·log10(A)`), by the Goertzel algorithm.
/// Returns [`SILENCE_DBFS`] for empty or silent input.
pub fn tone_power_db(samples: &[f32], freq: f32, rate: u32) -> f32 {
    if samples.is_empty() || rate == 0 {
        return SILENCE_DBFS;
    }
    let n = samples.len() as f64;
    // Non-integer bin: the generalised Goertzel, exact for any frequency.
    let w = 2.0 * PI * f64::from(freq) / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let amplitude = 2.0 * power.max(0.0).sqrt() / n;
    to_db(amplitude)
}

fn to_db(amplitude: f64) -> f32 {
    if amplitude <= 0.0 {
        return SILENCE_DBFS;
    }
    (20.0 * amplitude.log10()).max(f64::from(SILENCE_DBFS)) as f32
}

/// How far below the whole signal's power a tone may be and still count as present.
pub const DEFAULT_DETECT_THRESHOLD_DB: f32 = 6.0;

/// Below this RMS a signal is silence, and no tone is detected in it.
pub const DETECT_FLOOR_DBFS: f32 = -60.0;

/// Is a tone of `freq` Hz present in `samples` (48 kHz)? Yes when the tone carries most of
/// the signal's power: its power is within [`DEFAULT_DETECT_THRESHOLD_DB`] of the total, and
/// the signal is above [`DETECT_FLOOR_DBFS`]. The threshold is relative, so it works at any
/// playback volume.
pub fn detect(samples: &[f32], freq: f32) -> bool {
    detect_with(samples, freq, SAMPLE_RATE, DEFAULT_DETECT_THRESHOLD_DB)
}

/// [`detect`] with an explicit sample rate and relative threshold in dB.
pub fn detect_with(samples: &[f32], freq: f32, rate: u32, threshold_db: f32) -> bool {
    let total = rms_dbfs(samples);
    if total < DETECT_FLOOR_DBFS {
        return false;
    }
    // A sine of peak A has RMS A/√2: compare like with like.
    let tone_rms = tone_power_db(samples, freq, rate) - 3.0103;
    tone_rms >= total - threshold_db
}

/// A stretch of silence in a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// Where the gap starts, from the start of the recording.
    pub start: Duration,
    /// How long it lasts.
    pub length: Duration,
}

/// Analysis window for [`longest_gap`]: 5 ms.
pub const GAP_WINDOW: Duration = Duration::from_millis(5);

/// The longest silence *inside* a recording, between its first and last sound: windows of
/// [`GAP_WINDOW`] whose RMS is below `threshold_dbfs` are silent. Leading and trailing
/// silence (before the tone starts, after it stops) do not count. `None` when there is no
/// sound at all; a zero-length gap when the sound never stops.
///
/// For "no gap longer than 60 ms" checks: `longest_gap(&rec, 48_000, -50.0)`.
pub fn longest_gap(samples: &[f32], rate: u32, threshold_dbfs: f32) -> Option<Gap> {
    let win = samples_in(GAP_WINDOW, rate).max(1);
    let loud: Vec<bool> = samples.chunks(win).map(|w| rms_dbfs(w) >= threshold_dbfs).collect();
    let first = loud.iter().position(|&l| l)?;
    let last = loud.iter().rposition(|&l| l)?;
    let mut best = (first, 0usize);
    let mut run_start = None;
    for (i, &l) in loud.iter().enumerate().take(last + 1).skip(first) {
        match (l, run_start) {
            (false, None) => run_start = Some(i),
            (true, Some(s)) => {
                if i - s > best.1 {
                    best = (s, i - s);
                }
                run_start = None;
            }
            _ => {}
        }
    }
    Some(Gap { start: duration_of(best.0 * win, rate), length: duration_of(best.1 * win, rate) })
}

/// How much later `reference` appears in `recorded`, by cross-correlation over lags
/// `0..=max_lag`. `None` when the best match is weak (normalised correlation below 0.3), e.g.
/// the reference is not in the recording. Use a broadband reference ([`chirp`], speech);
/// resolution is one sample.
pub fn estimate_delay(reference: &[f32], recorded: &[f32], rate: u32, max_lag: Duration) -> Option<Duration> {
    if reference.is_empty() || recorded.is_empty() || rate == 0 {
        return None;
    }
    let max_lag = samples_in(max_lag, rate).min(recorded.len().saturating_sub(1));
    let n = (reference.len() + recorded.len()).next_power_of_two();
    // corr[lag] = Σ ref[i] · rec[i + lag] = IFFT(conj(FFT(ref)) · FFT(rec)).
    let mut a = fft::to_complex(reference, n);
    let mut b = fft::to_complex(recorded, n);
    fft::fft(&mut a, false);
    fft::fft(&mut b, false);
    for (x, y) in a.iter_mut().zip(&b) {
        *x = fft::mul(fft::conj(*x), *y);
    }
    fft::fft(&mut a, true);

    let ref_energy: f64 = reference.iter().map(|&x| f64::from(x).powi(2)).sum();
    // Prefix sums of the recording's energy, for the energy under the reference at each lag.
    let mut prefix = Vec::with_capacity(recorded.len() + 1);
    prefix.push(0.0f64);
    for &x in recorded {
        let last = prefix.last().copied().unwrap_or(0.0);
        prefix.push(last + f64::from(x).powi(2));
    }
    let mut best: Option<(usize, f64)> = None;
    for (lag, c) in a.iter().enumerate().take(max_lag + 1) {
        let end = (lag + reference.len()).min(recorded.len());
        let rec_energy = prefix[end] - prefix[lag];
        let denom = (ref_energy * rec_energy).sqrt();
        if denom <= f64::EPSILON {
            continue;
        }
        let score = c.0 / n as f64 / denom;
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((lag, score));
        }
    }
    match best {
        Some((lag, score)) if score >= 0.3 => Some(duration_of(lag, rate)),
        _ => None,
    }
}

/// A small iterative radix-2 FFT, enough for cross-correlating a few seconds of audio.
mod fft {
    use std::f64::consts::PI;

    pub type C = (f64, f64);

    pub fn mul(a: C, b: C) -> C {
        (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
    }

    pub fn conj(a: C) -> C {
        (a.0, -a.1)
    }

    pub fn to_complex(x: &[f32], n: usize) -> Vec<C> {
        let mut v: Vec<C> = x.iter().map(|&s| (f64::from(s), 0.0)).collect();
        v.resize(n, (0.0, 0.0));
        v
    }

    /// In-place FFT of a power-of-two length; `inverse` leaves the result unscaled.
    pub fn fft(a: &mut [C], inverse: bool) {
        let n = a.len();
        if n < 2 {
            return;
        }
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                a.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let ang = 2.0 * PI / len as f64 * if inverse { 1.0 } else { -1.0 };
            let w_len = (ang.cos(), ang.sin());
            for chunk in a.chunks_mut(len) {
                let mut w = (1.0, 0.0);
                let (lo, hi) = chunk.split_at_mut(len / 2);
                for (u, v) in lo.iter_mut().zip(hi.iter_mut()) {
                    let t = mul(*v, w);
                    *v = (u.0 - t.0, u.1 - t.1);
                    *u = (u.0 + t.0, u.1 + t.1);
                    w = mul(w, w_len);
                }
            }
            len <<= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    const R: u32 = SAMPLE_RATE;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn goertzel_measures_a_sine_at_its_amplitude() {
        let s = sine(1000.0, R, ms(100), 0.5);
        let db = tone_power_db(&s, 1000.0, R);
        assert!((db - (-6.02)).abs() < 0.2, "{db}");
        let off = tone_power_db(&s, 1500.0, R);
        assert!(off < -40.0, "1.5 kHz in a 1 kHz sine: {off}");
    }

    #[test]
    fn detects_a_tone_at_any_volume_and_rejects_others() {
        for amp in [0.9, 0.1, 0.01] {
            assert!(detect(&sine(440.0, R, ms(100), amp), 440.0), "amp {amp}");
        }
        assert!(!detect(&sine(440.0, R, ms(100), 0.5), 880.0));
        assert!(!detect(&vec![0.0; 4800], 440.0), "silence");
        assert!(!detect(&sine(440.0, R, ms(100), 0.0001), 440.0), "below the floor");
    }

    #[test]
    fn detects_a_tone_in_noise_only_when_it_dominates() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let tone = sine(440.0, R, ms(200), 0.5);
        let quiet: Vec<f32> = tone.iter().map(|&t| t + rng.gen_range(-0.05..0.05)).collect();
        assert!(detect(&quiet, 440.0));
        let loud: Vec<f32> = tone.iter().map(|&t| t * 0.05 + rng.gen_range(-0.5..0.5)).collect();
        assert!(!detect(&loud, 440.0));
    }

    #[test]
    fn sine_generator_is_continuous_across_frames() {
        let mut g = SineGenerator::new(440.0, R, 1.0);
        let mut a = vec![0.0; 960];
        let mut b = vec![0.0; 960];
        g.fill(&mut a);
        g.fill(&mut b);
        let whole = sine(440.0, R, ms(40), 1.0);
        let joined: Vec<f32> = a.into_iter().chain(b).collect();
        for (x, y) in joined.iter().zip(&whole) {
            assert!((x - y).abs() < 1e-4);
        }
    }

    #[test]
    fn longest_gap_finds_a_dropout_and_ignores_lead_in_and_tail() {
        let mut rec = vec![0.0; samples_in(ms(300), R)]; // lead-in silence
        rec.extend(sine(440.0, R, ms(500), 0.5));
        rec.extend(vec![0.0; samples_in(ms(80), R)]); // dropout
        rec.extend(sine(440.0, R, ms(200), 0.5));
        rec.extend(vec![0.0; samples_in(ms(30), R)]); // shorter dropout
        rec.extend(sine(440.0, R, ms(200), 0.5));
        rec.extend(vec![0.0; samples_in(ms(400), R)]); // tail
        let gap = longest_gap(&rec, R, -50.0).expect("there is sound");
        assert!(gap.length >= ms(75) && gap.length <= ms(85), "{:?}", gap.length);
        assert!(gap.start >= ms(795) && gap.start <= ms(805), "{:?}", gap.start);
    }

    #[test]
    fn longest_gap_of_continuous_sound_is_zero_and_of_silence_is_none() {
        let gap = longest_gap(&sine(440.0, R, ms(500), 0.5), R, -50.0).expect("sound");
        assert_eq!(gap.length, Duration::ZERO);
        assert_eq!(longest_gap(&vec![0.0; 48_000], R, -50.0), None);
    }

    #[test]
    fn estimates_the_delay_of_an_attenuated_noisy_copy() {
        let reference = chirp(200.0, 4000.0, R, ms(500), 0.8);
        let delay = samples_in(ms(137), R);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut recorded: Vec<f32> =
            (0..samples_in(ms(1200), R)).map(|_| rng.gen_range(-0.02..0.02)).collect();
        for (i, &x) in reference.iter().enumerate() {
            recorded[delay + i] += 0.3 * x;
        }
        let got = estimate_delay(&reference, &recorded, R, ms(500)).expect("found");
        let err = got.as_secs_f64() - 0.137;
        assert!(err.abs() < 0.0005, "estimated {got:?}");
    }

    #[test]
    fn no_delay_estimate_when_the_reference_is_absent() {
        let reference = chirp(200.0, 4000.0, R, ms(300), 0.8);
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let noise: Vec<f32> = (0..samples_in(ms(1000), R)).map(|_| rng.gen_range(-0.5..0.5)).collect();
        assert_eq!(estimate_delay(&reference, &noise, R, ms(500)), None);
        assert_eq!(estimate_delay(&reference, &[], R, ms(500)), None);
    }

    #[test]
    fn delay_beyond_max_lag_is_not_reported_as_a_match() {
        let reference = chirp(200.0, 4000.0, R, ms(300), 0.8);
        let mut recorded = vec![0.0; samples_in(ms(1500), R)];
        let delay = samples_in(ms(900), R);
        for (i, &x) in reference.iter().enumerate() {
            recorded[delay + i] = x;
        }
        assert_eq!(estimate_delay(&reference, &recorded, R, ms(500)), None);
        let got = estimate_delay(&reference, &recorded, R, ms(1000)).expect("in range");
        assert_eq!(got, ms(900));
    }
}
