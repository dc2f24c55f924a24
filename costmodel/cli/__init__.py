"""The `costmodel` command line (filled in below)."""


def main() -> None:  # pragma: no cover - replaced by the real CLI
    raise SystemExit("costmodel CLI not built yet")
