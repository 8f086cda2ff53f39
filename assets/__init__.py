"""Icons and the desktop entry, shipped as package data (`edge_asr.assets`); no code."""
