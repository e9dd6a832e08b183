//! Opus encoder and decoder: mono, 48 kHz, 20 ms frames.
//!
//! The encoder is set up for voice over a lossy network: VOIP application, in-band FEC (each
//! packet carries a low-bitrate copy of the previous frame), DTX (near-empty packets during
//! silence) and about 32 kbit/s. The decoder decodes a packet, recovers a lost frame from the
//! *next* packet's FEC data ([`Decoder::decode_fec`]), or conceals a lost frame with no data
//! at all ([`Decoder::conceal`]).

use crate::{FRAME_SAMPLES, SAMPLE_RATE};

/// Largest Opus packet we produce (the RFC 6716 maximum for one frame is 1275 bytes).
pub const MAX_PACKET_BYTES: usize = 1275;

/// An encoder reports DTX with a packet of this many bytes or fewer; such a packet need not
/// be sent (the receiver conceals, which for Opus after DTX means comfort noise).
pub const DTX_MAX_BYTES: usize = 2;

/// Errors from the codec.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// libopus refused a call (bad setting, corrupt packet, ...).
    #[error("opus {function}: {description}")]
    Opus {
        /// The libopus function that failed.
        function: &'static str,
        /// libopus' description of the error code.
        description: &'static str,
        /// The error code.
        code: opus::ErrorCode,
    },
    /// A frame to encode, or a buffer to decode into, had the wrong length.
    #[error("expected {expected} samples (20 ms at 48 kHz), got {got}")]
    FrameLength {
        /// Samples required.
        expected: usize,
        /// Samples given.
        got: usize,
    },
}

impl From<opus::Error> for CodecError {
    fn from(e: opus::Error) -> Self {
        CodecError::Opus { function: e.function(), description: e.description(), code: e.code() }
    }
}

/// Encoder settings. [`EncoderConfig::default`] is what a meet uses.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    /// Target bitrate in bit/s.
    pub bitrate_bps: i32,
    /// In-band forward error correction.
    pub fec: bool,
    /// Packet loss the encoder expects, in percent (0–100); more means more FEC bits.
    pub expected_loss_percent: u8,
    /// Discontinuous transmission during silence.
    pub dtx: bool,
    /// Encoder complexity 0–10.
    pub complexity: u8,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self { bitrate_bps: 32_000, fec: true, expected_loss_percent: 10, dtx: true, complexity: 9 }
    }
}

fn check_len(expected: usize, got: usize) -> Result<(), CodecError> {
    if expected == got {
        Ok(())
    } else {
        Err(CodecError::FrameLength { expected, got })
    }
}

/// Opus encoder for one mono 48 kHz stream of 20 ms frames.
pub struct Encoder {
    inner: opus::Encoder,
    config: EncoderConfig,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Encoder {
    /// An encoder with [`EncoderConfig::default`].
    pub fn new() -> Result<Self, CodecError> {
        Self::with_config(EncoderConfig::default())
    }

    /// An encoder with the given settings.
    pub fn with_config(config: EncoderConfig) -> Result<Self, CodecError> {
        let mut inner = opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)?;
        inner.set_bitrate(opus::Bitrate::Bits(config.bitrate_bps))?;
        inner.set_inband_fec(config.fec)?;
        inner.set_packet_loss_perc(i32::from(config.expected_loss_percent.min(100)))?;
        inner.set_dtx(config.dtx)?;
        inner.set_complexity(i32::from(config.complexity.min(10)))?;
        inner.set_signal(opus::Signal::Voice)?;
        Ok(Self { inner, config })
    }

    /// The settings this encoder was made with (loss percentage as last set).
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Tell the encoder how much loss the far end reports (e.g. from RTCP), so it can spend
    /// more or fewer bits on FEC.
    pub fn set_expected_loss(&mut self, percent: u8) -> Result<(), CodecError> {
        let percent = percent.min(100);
        self.inner.set_packet_loss_perc(i32::from(percent))?;
        self.config.expected_loss_percent = percent;
        Ok(())
    }

    /// Encode one 20 ms frame (exactly [`FRAME_SAMPLES`] samples in `-1.0..=1.0`) into `out`;
    /// returns the packet length. `out` should hold [`MAX_PACKET_BYTES`].
    /// A length of [`DTX_MAX_BYTES`] or less is a DTX packet.
    pub fn encode_into(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<usize, CodecError> {
        check_len(FRAME_SAMPLES, pcm.len())?;
        Ok(self.inner.encode_float(pcm, out)?)
    }

    /// Encode one 20 ms frame into a new packet.
    pub fn encode(&mut self, pcm: &[f32]) -> Result<Vec<u8>, CodecError> {
        let mut out = vec![0u8; MAX_PACKET_BYTES];
        let n = self.encode_into(pcm, &mut out)?;
        out.truncate(n);
        Ok(out)
    }
}

/// Opus decoder for one mono 48 kHz stream.
pub struct Decoder {
    inner: opus::Decoder,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").finish_non_exhaustive()
    }
}

impl Decoder {
    /// A mono 48 kHz decoder.
    pub fn new() -> Result<Self, CodecError> {
        Ok(Self { inner: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono)? })
    }

    /// Decode a packet into `out` (exactly [`FRAME_SAMPLES`] long); returns samples written.
    pub fn decode(&mut self, packet: &[u8], out: &mut [f32]) -> Result<usize, CodecError> {
        check_len(FRAME_SAMPLES, out.len())?;
        if packet.is_empty() {
            return self.conceal(out);
        }
        Ok(self.inner.decode_float(packet, out, false)?)
    }

    /// The previous packet was lost: rebuild its frame from the FEC data in `next_packet`
    /// (the packet that follows the lost one). Without FEC data in it, libopus conceals.
    /// Afterwards decode `next_packet` itself with [`Decoder::decode`] as usual.
    pub fn decode_fec(&mut self, next_packet: &[u8], out: &mut [f32]) -> Result<usize, CodecError> {
        check_len(FRAME_SAMPLES, out.len())?;
        if next_packet.is_empty() {
            return self.conceal(out);
        }
        Ok(self.inner.decode_float(next_packet, out, true)?)
    }

    /// Packet loss concealment: make up one frame with no packet at all.
    pub fn conceal(&mut self, out: &mut [f32]) -> Result<usize, CodecError> {
        check_len(FRAME_SAMPLES, out.len())?;
        Ok(self.inner.decode_float(&[], out, false)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::{tone_power_db, SineGenerator};

    fn frames(freq: f32, n: usize) -> Vec<Vec<f32>> {
        let mut g = SineGenerator::new(freq, SAMPLE_RATE, 0.5);
        (0..n)
            .map(|_| {
                let mut f = vec![0.0; FRAME_SAMPLES];
                g.fill(&mut f);
                f
            })
            .collect()
    }

    #[test]
    fn round_trip_keeps_a_tone() {
        let mut enc = Encoder::new().expect("encoder");
        let mut dec = Decoder::new().expect("decoder");
        let mut out = vec![0.0; FRAME_SAMPLES];
        let mut decoded = Vec::new();
        for f in frames(440.0, 25) {
            let p = enc.encode(&f).expect("encode");
            assert!(p.len() > DTX_MAX_BYTES && p.len() < 400, "packet {}", p.len());
            assert_eq!(dec.decode(&p, &mut out).expect("decode"), FRAME_SAMPLES);
            decoded.extend_from_slice(&out);
        }
        // Skip the codec's start-up (look-ahead and ramp).
        let tail = &decoded[FRAME_SAMPLES * 5..];
        let db = tone_power_db(tail, 440.0, SAMPLE_RATE);
        assert!(db > -9.0, "440 Hz at {db} dB after a round trip (sent at -6 dB)");
    }

    #[test]
    fn bitrate_is_about_32_kbits() {
        let mut enc = Encoder::new().expect("encoder");
        let total: usize = frames(300.0, 100).iter().map(|f| enc.encode(f).expect("encode").len()).sum();
        let kbps = total as f64 * 8.0 / 2.0 / 1000.0; // 100 frames = 2 s
        assert!((16.0..48.0).contains(&kbps), "{kbps} kbit/s");
    }

    #[test]
    fn silence_becomes_dtx_packets() {
        let mut enc = Encoder::new().expect("encoder");
        let silence = vec![0.0; FRAME_SAMPLES];
        let sizes: Vec<usize> = (0..50).map(|_| enc.encode(&silence).expect("encode").len()).collect();
        let dtx = sizes.iter().filter(|&&n| n <= DTX_MAX_BYTES).count();
        assert!(dtx >= 30, "only {dtx} of 50 silent frames were DTX: {sizes:?}");
    }

    #[test]
    fn fec_recovers_a_lost_frame_better_than_concealment() {
        // 440 Hz for a while, then 1 kHz from the lost frame on: concealment can only
        // extrapolate 440 Hz, FEC carries the 1 kHz frame inside the next packet.
        let mut enc = Encoder::new().expect("encoder");
        let mut packets: Vec<Vec<u8>> =
            frames(440.0, 30).iter().map(|f| enc.encode(f).expect("encode")).collect();
        packets.extend(frames(1000.0, 10).iter().map(|f| enc.encode(f).expect("encode")));
        let lost = 32;
        let mut out = vec![0.0; FRAME_SAMPLES];

        let mut with_fec = Decoder::new().expect("decoder");
        let mut with_plc = Decoder::new().expect("decoder");
        for p in &packets[..lost] {
            with_fec.decode(p, &mut out).expect("decode");
            with_plc.decode(p, &mut out).expect("decode");
        }
        let mut recovered = vec![0.0; FRAME_SAMPLES];
        with_fec.decode_fec(&packets[lost + 1], &mut recovered).expect("fec");
        let mut concealed = vec![0.0; FRAME_SAMPLES];
        with_plc.conceal(&mut concealed).expect("plc");

        let fec_db = tone_power_db(&recovered[480..], 1000.0, SAMPLE_RATE);
        let plc_db = tone_power_db(&concealed[480..], 1000.0, SAMPLE_RATE);
        assert!(fec_db > plc_db + 10.0, "1 kHz in FEC frame {fec_db} dB, in concealed frame {plc_db} dB");
        // The stream goes on normally afterwards.
        assert_eq!(with_fec.decode(&packets[lost + 1], &mut out).expect("decode"), FRAME_SAMPLES);
    }

    #[test]
    fn concealment_and_fec_without_packet_produce_a_frame() {
        let mut dec = Decoder::new().expect("decoder");
        let mut out = vec![1.0; FRAME_SAMPLES];
        assert_eq!(dec.conceal(&mut out).expect("plc"), FRAME_SAMPLES);
        assert_eq!(dec.decode_fec(&[], &mut out).expect("fec"), FRAME_SAMPLES);
        assert!(out.iter().all(|s| s.abs() < 1e-3), "PLC with no history is silence");
    }

    #[test]
    fn wrong_frame_length_is_a_typed_error() {
        let mut enc = Encoder::new().expect("encoder");
        let err = enc.encode(&[0.0; 480]).expect_err("10 ms frame");
        assert!(matches!(err, CodecError::FrameLength { expected: 960, got: 480 }));
        let mut dec = Decoder::new().expect("decoder");
        let mut short = [0.0; 100];
        assert!(matches!(dec.conceal(&mut short), Err(CodecError::FrameLength { .. })));
    }

    #[test]
    fn corrupt_packet_is_an_opus_error() {
        let mut dec = Decoder::new().expect("decoder");
        let mut out = vec![0.0; FRAME_SAMPLES];
        // TOC byte for code 3 (arbitrary frame count) with a frame count of 0: invalid.
        let err = dec.decode(&[0x03 | 0xF8, 0x00], &mut out).expect_err("corrupt");
        assert!(matches!(err, CodecError::Opus { .. }), "{err}");
    }

    #[test]
    fn expected_loss_can_change_at_run_time() {
        let mut enc = Encoder::new().expect("encoder");
        enc.set_expected_loss(25).expect("set loss");
        assert_eq!(enc.config().expected_loss_percent, 25);
        enc.set_expected_loss(200).expect("clamped");
        assert_eq!(enc.config().expected_loss_percent, 100);
    }
}
