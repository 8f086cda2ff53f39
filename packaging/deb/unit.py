"""The .deb's systemd unit, derived from packaging/systemd/edge-asr.service (the one source of its hardening):
ExecStart at the installed path, and the package's system user instead of a DynamicUser.

    python packaging/deb/unit.py packaging/systemd/edge-asr.service > edge-asr.service
"""

import sys
from pathlib import Path

INSTALLED = "/usr/bin/edge-asr"
USER = "edge-asr"

# (line in the source unit, what the package's unit has instead); each must match exactly once.
CHANGES = [
    ("ExecStart=/usr/local/bin/edge-asr daemon --config /etc/edge-asr/config.toml",
     f"ExecStart={INSTALLED} daemon --config /etc/edge-asr/config.toml"),
    ("DynamicUser=yes", f"User={USER}\nGroup={USER}"),
    ("# A throwaway system user with access to the sound cards and nothing else.",
     "# The package's system user (made by its postinst), in group audio for the sound cards."),
]
HEADER = """# edge-asr headless daemon, installed by the edge-asr .deb: enable with `systemctl enable --now edge-asr`.
# Settings: /etc/edge-asr/config.toml (`edge-asr config check`); logs: `journalctl -u edge-asr -f`;
# reload: `systemctl reload edge-asr`. The model is prebuilt in /opt/edge-asr; state in /var/lib/edge-asr.
"""


def derive(text: str) -> str:
    lines = text.splitlines()
    body = lines[next(i for i, line in enumerate(lines) if line.startswith("[Unit]")):]
    out = "\n".join(body) + "\n"
    for old, new in CHANGES:
        if out.count(old + "\n") != 1:
            raise SystemExit(f"unit.py: {old!r} is not in the source unit exactly once; update CHANGES")
        out = out.replace(old + "\n", new + "\n")
    return HEADER + out


if __name__ == "__main__":
    sys.stdout.write(derive(Path(sys.argv[1]).read_text()))
