"""The soak's judge: a lost, doubled or twice-journaled final, a daemon error or RSS growth each fail the run.

The soak itself runs a real daemon (tests/daemon/test_soak.py); these feed the report what such a run records, to
show each target can fail."""

from __future__ import annotations

from typing import Any

from edge_asr.bench.soak_report import GROWTH_MIN_MINUTES, SoakRun, Stats, soak_report

MINUTES = GROWTH_MIN_MINUTES  # long enough for the growth to be judged
END = {"rss_mib": 200.0, "fds": 12, "threads": 13, "metrics": {}}


def final(i: int, wall: float) -> dict[str, Any]:
    return {"text": f"sentence {i}", "start": float(i), "end": i + 0.8, "wall_time": wall}


def run(rss: list[float] | None = None, finals: list[dict] | None = None, records: list[dict] | None = None,
        lines: tuple[str, ...] = (), exit_code: int = 0) -> dict[str, Any]:
    seconds = MINUTES * 60
    rss = rss or [200.0] * 60
    samples = [{"t": seconds * i / len(rss), "rss_mib": r, "fds": 12, "threads": 13} for i, r in enumerate(rss)]
    seen = finals if finals is not None else [final(i, 100.0 + i * 5) for i in range(10)]
    journal = records if records is not None else list(seen)
    return soak_report(SoakRun(MINUTES, seconds, 3, Stats(), samples, seen, journal, list(lines), exit_code, END))


def test_a_clean_flat_run_passes() -> None:
    report = run()
    assert report["ok"], report
    assert report["journal"]["lost"] == 0 and report["rss"]["growth_after_warmup_percent"] == 0.0


def test_each_target_can_fail() -> None:
    seen = [final(i, 100.0 + i * 5) for i in range(10)]
    lost = run(finals=seen, records=seen[:-1])
    assert not lost["ok"] and lost["journal"]["lost"] == 1
    doubled = run(finals=seen, records=[*seen, seen[3]])
    assert not doubled["ok"] and doubled["journal"]["duplicated"] == 1
    # the same utterance journaled twice a moment apart: two live pipelines
    twin = dict(seen[4], wall_time=seen[4]["wall_time"] + 0.5)
    near = run(finals=seen, records=[*seen, twin])
    assert not near["ok"] and near["journal"]["near_duplicates"] == 1
    growing = run(rss=[200.0 + i for i in range(60)])
    assert not growing["ok"] and growing["rss"]["growth_after_warmup_percent"] > 5
    logged = run(lines=("ERROR edge_asr.daemon: worker died",))
    assert not logged["ok"] and logged["errors"] == 1
    assert not run(exit_code=1)["ok"]
