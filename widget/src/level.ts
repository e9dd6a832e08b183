// Audio measurements on live tracks with WebAudio: the input level meter (P6), and a tone
// probe (Goertzel, the same rule as `meetdesk_media::tone::detect`) used by the interop test
// and handy for "can you hear the other side?" diagnostics.

/** Below this, a level reads as silence. */
export const SILENCE_DBFS = -100;

/** RMS of `samples` in dB relative to full scale. */
export function rmsDbfs(samples: Float32Array): number {
  if (samples.length === 0) return SILENCE_DBFS;
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / samples.length);
  return rms > 0 ? Math.max(20 * Math.log10(rms), SILENCE_DBFS) : SILENCE_DBFS;
}

/**
 * The level of the `hz` component of `samples`, in dB relative to a full-scale sine (a sine of
 * peak A reads `20·log10(A)`): the generalised Goertzel algorithm, exact for any frequency.
 */
export function tonePowerDb(samples: Float32Array, hz: number, rate: number): number {
  if (samples.length === 0 || rate <= 0) return SILENCE_DBFS;
  const w = (2 * Math.PI * hz) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  const amplitude = (2 * Math.sqrt(Math.max(power, 0))) / samples.length;
  return amplitude > 0 ? Math.max(20 * Math.log10(amplitude), SILENCE_DBFS) : SILENCE_DBFS;
}

/** A tone counts as present when it carries most of the signal's power (within this many dB). */
export const DETECT_THRESHOLD_DB = 6;
/** Below this RMS a signal is silence and holds no tone. */
export const DETECT_FLOOR_DBFS = -60;

export interface ToneReading {
  hz: number;
  /** The tone's RMS level, dBFS. */
  toneDbfs: number;
  /** The whole signal's RMS level, dBFS. */
  rmsDbfs: number;
  detected: boolean;
}

export function measureTone(samples: Float32Array, hz: number, rate: number): ToneReading {
  const total = rmsDbfs(samples);
  // A sine of peak A has RMS A/√2.
  const tone = tonePowerDb(samples, hz, rate) - 3.0103;
  return {
    hz,
    toneDbfs: tone,
    rmsDbfs: total,
    detected: total >= DETECT_FLOOR_DBFS && tone >= total - DETECT_THRESHOLD_DB,
  };
}

/** Taps a track with an `AnalyserNode` (nothing is played) and reads its latest samples. */
export class TrackTap {
  private readonly source: MediaStreamAudioSourceNode;
  private readonly analyser: AnalyserNode;
  private readonly buffer: Float32Array<ArrayBuffer>;
  readonly sampleRate: number;

  /** `fftSize`: the window read, in samples (2048 ≈ 43 ms at 48 kHz; a power of two ≤ 32768). */
  constructor(ctx: AudioContext, track: MediaStreamTrack, fftSize = 2048) {
    this.source = ctx.createMediaStreamSource(new MediaStream([track]));
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = fftSize;
    this.source.connect(this.analyser);
    this.buffer = new Float32Array(fftSize);
    this.sampleRate = ctx.sampleRate;
  }

  /** The latest window of samples (a view that the next read overwrites). */
  samples(): Float32Array {
    this.analyser.getFloatTimeDomainData(this.buffer);
    return this.buffer;
  }

  /** RMS level of the latest window, dBFS: the input level meter. */
  level(): number {
    return rmsDbfs(this.samples());
  }

  tone(hz: number): ToneReading {
    return measureTone(this.samples(), hz, this.sampleRate);
  }

  close(): void {
    this.source.disconnect();
    this.analyser.disconnect();
  }
}
