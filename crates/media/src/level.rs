//! Input level metering: RMS and peak in dBFS, smoothed for a UI meter (instant rise, slow
//! fall, a held peak).

use crate::SAMPLE_RATE;

/// The floor every level is clamped to: digital silence reads as this, not −∞.
pub const SILENCE_DBFS: f32 = -100.0;

/// RMS of `samples` in dBFS (a full-scale square wave is 0 dBFS, a full-scale sine −3 dBFS).
pub fn rms_dbfs(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return SILENCE_DBFS;
    }
    let mean_square = samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64;
    power_to_db(mean_square)
}

/// Largest absolute sample of `samples` in dBFS.
pub fn peak_dbfs(samples: &[f32]) -> f32 {
    let peak = samples.iter().fold(0.0f32, |m, &s| m.max(s.abs()));
    power_to_db(f64::from(peak).powi(2))
}

fn power_to_db(power: f64) -> f32 {
    if power <= 0.0 {
        return SILENCE_DBFS;
    }
    (10.0 * power.log10()).max(f64::from(SILENCE_DBFS)) as f32
}

/// One reading of the meter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// RMS of the last block, dBFS.
    pub rms_dbfs: f32,
    /// Peak of the last block, dBFS.
    pub peak_dbfs: f32,
    /// The RMS smoothed for display: rises at once, falls at [`LevelMeter::FALL_DB_PER_S`].
    pub smoothed_dbfs: f32,
    /// The highest peak of the last [`LevelMeter::PEAK_HOLD_S`] seconds, then falling.
    pub held_peak_dbfs: f32,
}

impl Level {
    /// A silent reading.
    pub const SILENT: Level = Level {
        rms_dbfs: SILENCE_DBFS,
        peak_dbfs: SILENCE_DBFS,
        smoothed_dbfs: SILENCE_DBFS,
        held_peak_dbfs: SILENCE_DBFS,
    };

    /// The smoothed level as a bar length `0.0..=1.0`, mapping −60 dBFS…0 dBFS linearly.
    pub fn bar(&self) -> f32 {
        ((self.smoothed_dbfs + 60.0) / 60.0).clamp(0.0, 1.0)
    }
}

/// A meter fed with blocks of samples (e.g. each 20 ms capture frame).
#[derive(Debug, Clone)]
pub struct LevelMeter {
    rate: u32,
    last: Level,
    peak_age_s: f32,
}

impl Default for LevelMeter {
    fn default() -> Self {
        Self::new(SAMPLE_RATE)
    }
}

impl LevelMeter {
    /// How fast the smoothed level and the held peak fall, dB per second.
    pub const FALL_DB_PER_S: f32 = 24.0;
    /// How long a peak is held before it falls.
    pub const PEAK_HOLD_S: f32 = 1.0;

    /// A meter for samples at `rate` Hz, starting silent.
    pub fn new(rate: u32) -> Self {
        Self { rate: rate.max(1), last: Level::SILENT, peak_age_s: 0.0 }
    }

    /// Feed the next block; returns the new reading.
    pub fn update(&mut self, block: &[f32]) -> Level {
        let dt = block.len() as f32 / self.rate as f32;
        let rms = rms_dbfs(block);
        let peak = peak_dbfs(block);
        let fallen = self.last.smoothed_dbfs - Self::FALL_DB_PER_S * dt;
        let smoothed = rms.max(fallen).max(SILENCE_DBFS);

        self.peak_age_s += dt;
        let mut held = self.last.held_peak_dbfs;
        if peak >= held {
            held = peak;
            self.peak_age_s = 0.0;
        } else if self.peak_age_s > Self::PEAK_HOLD_S {
            held = (held - Self::FALL_DB_PER_S * dt).max(peak);
        }
        self.last = Level { rms_dbfs: rms, peak_dbfs: peak, smoothed_dbfs: smoothed, held_peak_dbfs: held };
        self.last
    }

    /// The last reading.
    pub fn level(&self) -> Level {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::sine;
    use std::time::Duration;

    fn frame(amp: f32) -> Vec<f32> {
        sine(1000.0, SAMPLE_RATE, Duration::from_millis(20), amp)
    }

    #[test]
    fn full_scale_sine_is_minus_3_dbfs_rms_and_0_dbfs_peak() {
        let s = frame(1.0);
        assert!((rms_dbfs(&s) + 3.01).abs() < 0.05, "{}", rms_dbfs(&s));
        assert!(peak_dbfs(&s).abs() < 0.05, "{}", peak_dbfs(&s));
        let half = frame(0.5);
        assert!((rms_dbfs(&half) + 9.03).abs() < 0.05);
    }

    #[test]
    fn silence_and_empty_blocks_read_the_floor() {
        assert_eq!(rms_dbfs(&[0.0; 960]), SILENCE_DBFS);
        assert_eq!(peak_dbfs(&[]), SILENCE_DBFS);
        assert_eq!(rms_dbfs(&[]), SILENCE_DBFS);
    }

    #[test]
    fn meter_rises_at_once_and_falls_slowly() {
        let mut m = LevelMeter::default();
        let loud = m.update(&frame(1.0));
        assert!((loud.smoothed_dbfs + 3.0).abs() < 0.1);
        let after = m.update(&[0.0; 960]);
        // 20 ms at 24 dB/s = 0.48 dB lower, not the floor.
        assert!((after.smoothed_dbfs - (loud.smoothed_dbfs - 0.48)).abs() < 0.01);
        assert_eq!(after.rms_dbfs, SILENCE_DBFS);
        for _ in 0..500 {
            m.update(&[0.0; 960]);
        }
        assert_eq!(m.level().smoothed_dbfs, SILENCE_DBFS);
        assert_eq!(m.level().bar(), 0.0);
    }

    #[test]
    fn peak_is_held_for_a_second_then_falls() {
        let mut m = LevelMeter::default();
        m.update(&frame(1.0));
        for _ in 0..45 {
            m.update(&frame(0.01)); // 0.9 s
        }
        assert!(m.level().held_peak_dbfs > -0.1);
        for _ in 0..50 {
            m.update(&frame(0.01)); // 1 s more
        }
        assert!(m.level().held_peak_dbfs < -10.0, "{:?}", m.level());
    }

    #[test]
    fn bar_maps_minus_60_to_0_dbfs() {
        let mut l = Level::SILENT;
        l.smoothed_dbfs = -30.0;
        assert!((l.bar() - 0.5).abs() < 1e-6);
        l.smoothed_dbfs = 3.0;
        assert_eq!(l.bar(), 1.0);
    }
}
