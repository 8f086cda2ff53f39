"""The headless daemon: an HTTP/WebSocket server over the shared core (engine, live pipeline), for boards with no
screen. No Qt here. Start it with ``edge-asr daemon`` or ``python -m edge_asr.daemon``."""
