"""edge-asr: on-device speech-to-text with an INT8 Whisper-tiny."""

import os as _os

# onnxruntime (1.32) writes a device id and telemetry events under ~/.cache/Microsoft/DeveloperTools/.onnxruntime/
# on every run unless this is set before it loads. Every entry point (CLI, daemon, GUI, benches) imports this package
# first, so nothing of edge-asr's leaves a trace to be sent anywhere. An explicit setting of the user's is kept.
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
