"""Named constants of Whisper's audio front end and of the app, with their units."""

from __future__ import annotations

SAMPLE_RATE = 16_000  # Hz, Whisper's input rate
N_FFT = 400  # samples per STFT window (25 ms)
HOP_LENGTH = 160  # samples between frames (10 ms)
CHUNK_LENGTH = 30  # s, one Whisper window
N_SAMPLES = CHUNK_LENGTH * SAMPLE_RATE  # samples in one window
N_FRAMES = N_SAMPLES // HOP_LENGTH  # mel frames in one window (3000)
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH  # mel frames per second (100)
ENCODER_STRIDE = 2  # mel frames per encoder position (conv2 stride)
TOKENS_PER_SECOND = FRAMES_PER_SECOND // ENCODER_STRIDE  # encoder positions per second (50)
TIME_PRECISION = 1.0 / TOKENS_PER_SECOND  # s per timestamp token step (0.02)
LOG_MEL_FLOOR = 1e-10  # power floor before log10
LOG_MEL_DYNAMIC_RANGE = 8.0  # log10 units kept below the maximum

# Short-clip encoder guard rails, measured in ../shared/notes: a zero tail and a minimum context
# keep the decoder emitting <|endoftext|> instead of looping.
SHORT_CLIP_MIN_CONTEXT = 5.0  # s of encoder context at the least
SHORT_CLIP_MIN_TAIL = 2.0  # s of zero padding after the audio at the least (1.5-2 s held WER on en-dev)

# Language identification reads this much audio from the start (short-clip encoder): on the 11 clips of
# multilingual-dev, 5 s and 10 s both detected all 11 correctly; 3 s missed one.
LANGUAGE_DETECT_SECONDS = 10.0  # s

DEFAULT_MODEL = "tiny.en"
APP_NAME = "edge-asr"
