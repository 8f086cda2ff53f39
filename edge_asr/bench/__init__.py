"""Everything that measures: the benchmarks behind `edge-asr bench ...`. They print figures; none asserts timings.

- ``files``: audio files or a manifest, steady state and whole processes, ``--vs`` faster-whisper / whisper.cpp
- ``backends``: ``--backends onnxruntime,litert`` side by side
- ``peers``: the faster-whisper and whisper.cpp runners (``whispercpp``: our weights as the ggml file it loads)
- ``live`` (+ ``live_latency``), ``daemon``, ``soak``, ``gui`` (+ ``gui_overhead``), ``multilingual``, ``memory``:
  one benchmark per front end, each with its own ``main(argv)``
- ``common``: the one set of measuring helpers they share (fresh processes with their peak RSS, /proc readings,
  CPU over a window, medians and percentiles, tables)

Word error rates come from :func:`edge_asr.evaluate.wer`, the same function the tests use. Importing this package
imports nothing; each benchmark is imported when it runs (``edge_asr.cli.bench`` names every one statically).
"""
