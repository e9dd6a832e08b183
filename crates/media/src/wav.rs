//! WAV files for test signals and recordings: read any PCM/float WAV as mono f32 at 48 kHz,
//! write mono f32 or 16-bit WAVs. Built on `hound`.

use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::SAMPLE_RATE;

/// Errors reading or writing WAV files.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// The file could not be read or written, or is not a valid WAV.
    #[error("wav: {0}")]
    Hound(#[from] hound::Error),
    /// The file has a sample format we do not read.
    #[error("unsupported WAV format: {bits}-bit {format}")]
    UnsupportedFormat {
        /// Bits per sample.
        bits: u16,
        /// "int" or "float".
        format: &'static str,
    },
    /// The file declares zero channels or a zero sample rate.
    #[error("invalid WAV header: {channels} channels at {rate} Hz")]
    InvalidHeader {
        /// Channels in the header.
        channels: u16,
        /// Sample rate in the header.
        rate: u32,
    },
}

/// Read a WAV file as mono f32 samples at 48 kHz: channels are averaged, integer samples
/// scaled to `-1.0..1.0`, and other rates resampled by linear interpolation (simple, no
/// anti-alias filter: fine for test tones and speech checks, not for music).
pub fn read_mono_48k(path: impl AsRef<Path>) -> Result<Vec<f32>, WavError> {
    let reader = hound::WavReader::open(path)?;
    read_reader(reader)
}

/// [`read_mono_48k`] from any reader (e.g. bytes in memory).
pub fn read_mono_48k_from(reader: impl Read) -> Result<Vec<f32>, WavError> {
    read_reader(hound::WavReader::new(reader)?)
}

fn read_reader<R: Read>(mut reader: hound::WavReader<R>) -> Result<Vec<f32>, WavError> {
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(WavError::InvalidHeader { channels: spec.channels, rate: spec.sample_rate });
    }
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader.samples::<f32>().collect::<Result<_, _>>()?,
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>()?
        }
        (hound::SampleFormat::Float, bits) => {
            return Err(WavError::UnsupportedFormat { bits, format: "float" })
        }
        (hound::SampleFormat::Int, bits) => return Err(WavError::UnsupportedFormat { bits, format: "int" }),
    };
    let channels = usize::from(spec.channels);
    let mono: Vec<f32> =
        interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32).collect();
    Ok(resample_linear(&mono, spec.sample_rate, SAMPLE_RATE))
}

/// Resample by linear interpolation between neighbouring samples.
pub fn resample_linear(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() || from == 0 || to == 0 {
        return input.to_vec();
    }
    let out_len = (input.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..out_len)
        .map(|i| {
            let pos = i as f64 * step;
            let idx = pos as usize;
            let frac = (pos - idx as f64) as f32;
            let a = input[idx.min(input.len() - 1)];
            let b = input[(idx + 1).min(input.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

/// Write mono 32-bit float samples.
pub fn write_f32(path: impl AsRef<Path>, samples: &[f32], rate: u32) -> Result<(), WavError> {
    let w = hound::WavWriter::create(path, spec(rate, 32, hound::SampleFormat::Float))?;
    write_samples_f32(w, samples)
}

/// Write mono 16-bit PCM samples, clipping to `-1.0..=1.0` (what `paplay` and browsers'
/// fake-microphone files want).
pub fn write_i16(path: impl AsRef<Path>, samples: &[f32], rate: u32) -> Result<(), WavError> {
    let w = hound::WavWriter::create(path, spec(rate, 16, hound::SampleFormat::Int))?;
    write_samples_i16(w, samples)
}

/// [`write_f32`] to any seekable writer.
pub fn write_f32_to(writer: impl Write + Seek, samples: &[f32], rate: u32) -> Result<(), WavError> {
    let w = hound::WavWriter::new(writer, spec(rate, 32, hound::SampleFormat::Float))?;
    write_samples_f32(w, samples)
}

/// [`write_i16`] to any seekable writer.
pub fn write_i16_to(writer: impl Write + Seek, samples: &[f32], rate: u32) -> Result<(), WavError> {
    let w = hound::WavWriter::new(writer, spec(rate, 16, hound::SampleFormat::Int))?;
    write_samples_i16(w, samples)
}

/// A mono 32-bit float WAV written as the samples come (a recording of any length in
/// constant memory): the file exists from [`Recorder::create`], and [`Recorder::finish`]
/// writes its final length into the header.
pub struct Recorder {
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    samples: u64,
}

impl Recorder {
    /// Creates (or truncates) the file and writes its header.
    pub fn create(path: impl AsRef<Path>, rate: u32) -> Result<Recorder, WavError> {
        let writer = hound::WavWriter::create(path, spec(rate, 32, hound::SampleFormat::Float))?;
        Ok(Recorder { writer, samples: 0 })
    }

    /// Appends samples (buffered).
    pub fn write(&mut self, samples: &[f32]) -> Result<(), WavError> {
        for &s in samples {
            self.writer.write_sample(s)?;
        }
        self.samples += samples.len() as u64;
        Ok(())
    }

    /// Completes the file; returns how many samples it holds.
    pub fn finish(self) -> Result<u64, WavError> {
        self.writer.finalize()?;
        Ok(self.samples)
    }
}

fn spec(rate: u32, bits: u16, sample_format: hound::SampleFormat) -> hound::WavSpec {
    hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: bits, sample_format }
}

fn write_samples_f32<W: Write + Seek>(mut w: hound::WavWriter<W>, samples: &[f32]) -> Result<(), WavError> {
    for &s in samples {
        w.write_sample(s)?;
    }
    Ok(w.finalize()?)
}

fn write_samples_i16<W: Write + Seek>(mut w: hound::WavWriter<W>, samples: &[f32]) -> Result<(), WavError> {
    for &s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16)?;
    }
    Ok(w.finalize()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::{sine, tone_power_db};
    use std::io::Cursor;
    use std::time::Duration;

    fn tone(rate: u32) -> Vec<f32> {
        sine(1000.0, rate, Duration::from_millis(200), 0.5)
    }

    #[test]
    fn f32_round_trip_is_exact() {
        let s = tone(SAMPLE_RATE);
        let mut buf = Cursor::new(Vec::new());
        write_f32_to(&mut buf, &s, SAMPLE_RATE).expect("write");
        let back = read_mono_48k_from(Cursor::new(buf.into_inner())).expect("read");
        assert_eq!(back, s);
    }

    #[test]
    fn i16_round_trip_is_within_one_lsb_and_clips() {
        let mut s = tone(SAMPLE_RATE);
        s.push(1.5);
        s.push(-1.5);
        let mut buf = Cursor::new(Vec::new());
        write_i16_to(&mut buf, &s, SAMPLE_RATE).expect("write");
        let back = read_mono_48k_from(Cursor::new(buf.into_inner())).expect("read");
        assert_eq!(back.len(), s.len());
        for (a, b) in back.iter().zip(&s).take(s.len() - 2) {
            assert!((a - b).abs() <= 1.0 / 32768.0 + 1e-6);
        }
        assert!(back[back.len() - 2] > 0.999 && back[back.len() - 1] < -0.999);
    }

    #[test]
    fn files_on_disk_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tone.wav");
        write_i16(&path, &tone(SAMPLE_RATE), SAMPLE_RATE).expect("write");
        let back = read_mono_48k(&path).expect("read");
        assert_eq!(back.len(), 9600);
    }

    #[test]
    fn stereo_44k1_is_downmixed_and_resampled_to_48k() {
        let rate = 44_100;
        let left = tone(rate);
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut buf, spec).expect("writer");
            for &l in &left {
                w.write_sample((l * 32767.0) as i16).expect("l");
                w.write_sample(0i16).expect("r"); // silent right channel
            }
            w.finalize().expect("finalize");
        }
        let back = read_mono_48k_from(Cursor::new(buf.into_inner())).expect("read");
        assert!((back.len() as i64 - 9600).abs() <= 1, "{}", back.len());
        // Averaged with a silent channel: half the amplitude, same pitch.
        let db = tone_power_db(&back, 1000.0, SAMPLE_RATE);
        assert!((db - (-12.04)).abs() < 0.5, "{db}");
    }

    #[test]
    fn garbage_is_a_typed_error() {
        let err = read_mono_48k_from(Cursor::new(b"not a wav file at all".to_vec())).expect_err("garbage");
        assert!(matches!(err, WavError::Hound(_)), "{err}");
    }

    #[test]
    fn resample_keeps_length_proportional() {
        let x = vec![0.0; 16_000];
        assert_eq!(resample_linear(&x, 16_000, 48_000).len(), 48_000);
        assert_eq!(resample_linear(&x, 48_000, 48_000).len(), 16_000);
    }
}
