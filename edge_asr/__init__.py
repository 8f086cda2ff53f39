"""edge-asr: on-device speech-to-text with an INT8 Whisper-tiny."""

__version__ = "0.1.0"
