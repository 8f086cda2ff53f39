"""Named constants of the desktop app, with their units."""

from __future__ import annotations

ORGANIZATION = "edge-asr"
SETTINGS_APP = "edge-asr-gui"
# Printed with a wall-clock time by `edge-asr gui --print-ready`, read by `edge-asr bench gui` and `bench memory`
READY_MARK = "EDGE_ASR_GUI_READY"  # the first event-loop turn after the window shows
MODEL_MARK = "EDGE_ASR_GUI_MODEL"  # the model is loaded (followed by 1) or failed to load (0)

# Lines `edge-asr gui --print-ready` writes to stdout (mark, Unix time[, model loaded 0/1]) for `edge-asr bench gui`.
READY_MARK = "EDGE_ASR_GUI_READY"
MODEL_MARK = "EDGE_ASR_GUI_MODEL"

DEFAULT_WINDOW_SIZE = (1100, 700)  # px, first run
MIN_WINDOW_SIZE = (800, 480)  # px, a 7" Raspberry Pi touchscreen
SIDEBAR_WIDTH = 280  # px, the file jobs panel
SIDEBAR_MIN_WIDTH = 220  # px

RESOURCE_SAMPLE_INTERVAL_MS = 1000  # ms between ResourceSampler reads while no Stats events flow
STATS_FRESH_S = 3.0  # s: a Stats event younger than this makes the GUI's own sampling redundant
PLOT_HISTORY = 60  # samples kept by each rolling plot (one minute at 1 Hz)
SPARKLINE_HEIGHT = 22  # px
LEVEL_FLOOR_DBFS = -60.0  # dBFS shown as an empty meter
LEVEL_REDRAW_INTERVAL_MS = 50  # ms: the meter repaints at most 20 times a second, whatever the event rate
LEVEL_PEAK_HOLD_S = 1.0  # s a peak marker stays before falling

DEVICE_REFRESH_INTERVAL_MS = 3000  # ms between input-device list refreshes while not recording
PIPELINE_STOP_TIMEOUT_S = 5.0  # s the pipeline may take to flush the utterance in flight
SHUTDOWN_WAIT_MS = 8000  # ms the window waits for workers on close before giving up

SCREENSHOT_SETTLE_MS = 1200  # ms after the window shows before a screenshot, so first samples arrive
SCREENSHOT_MAX_WAIT_MS = 900_000  # ms a screenshot waits for the model: a first build is ~1 min here, longer on a Pi

MAX_THREADS = 16  # upper bound offered for encoder threads
PROGRESS_STEPS = 1000  # resolution of progress bars (QProgressBar takes ints)
EXPORT_FORMATS = ("txt", "srt", "vtt", "json")
AUDIO_FILE_PATTERNS = "*.wav *.flac *.mp3 *.ogg *.opus *.m4a *.mp4 *.webm *.aac *.wma"
