"""The route table: which model decodes which language (``en=tiny.en,*=base``), parsed and validated.

Plain data with no engine behind it, so ``EngineOptions`` can validate a table when it is built; ``routing`` is
what loads the models and routes requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError
from .tokenizer import LANGUAGE_CODES

ANY = "*"  # the route for every language not named
SUGGESTED_ROUTES = "en=tiny.en,*=base"  # English to the fast model, every other language to base


@dataclass(frozen=True)
class RouteTable:
    """Ordered (language or ``*``, model) pairs; validated when built."""

    routes: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if not self.routes:
            raise ConfigError("a route table needs at least one route, e.g. 'en=tiny.en,*=base'")
        seen: set[str] = set()
        for language, model in self.routes:
            if language != ANY and language not in LANGUAGE_CODES:
                raise ConfigError(f"route {language}={model}: unknown language code {language!r} (e.g. en, de, zh, *)")
            if not model:
                raise ConfigError(f"route for {language!r} names no model")
            if language in seen:
                raise ConfigError(f"two routes for language {language!r}")
            seen.add(language)

    @classmethod
    def parse(cls, spec: str) -> RouteTable:
        """``"en=tiny.en, *=base"`` (commas or semicolons between routes)."""
        routes = []
        for raw in spec.replace(";", ",").split(","):
            item = raw.strip()
            if not item:
                continue
            language, sep, model = item.partition("=")
            if not sep:
                raise ConfigError(f"route {item!r} is not LANGUAGE=MODEL (e.g. en=tiny.en or *=base)")
            routes.append((language.strip().lower(), model.strip()))
        return cls(tuple(routes))

    def __str__(self) -> str:
        return ",".join(f"{lang}={model}" for lang, model in self.routes)

    @property
    def models(self) -> tuple[str, ...]:
        """Every model named, in order of first appearance."""
        return tuple(dict.fromkeys(model for _, model in self.routes))

    def model_for(self, language: str) -> str | None:
        """The model for ``language``: its own route, else the ``*`` route, else None."""
        table = dict(self.routes)
        return table.get(language, table.get(ANY))
