"""The event catalogue as documentation: the generated part of ``docs/events.md``.

``python -m chalicelib.events.reference docs/events.md`` (``make events-doc``) rewrites the part between
:data:`BEGIN` and :data:`END` from :func:`chalicelib.events.catalogue.data_schemas`; ``--check`` only says
whether it is current. A contract test fails when the file differs from the catalogue.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

from chalicelib.events.catalogue import DATA_MODELS, data_schemas

BEGIN = "<!-- BEGIN GENERATED CATALOGUE: make events-doc -->"
END = "<!-- END GENERATED CATALOGUE -->"


def catalogue_markdown() -> str:
    """One section per event type: when it is recorded (its model's docstring) and its data's schema."""
    schemas = data_schemas()
    parts: list[str] = []
    for type_, model in DATA_MODELS.items():
        when = inspect.cleandoc(model.__doc__ or "").replace("``", "`")
        schema = json.dumps(schemas[type_.value], indent=2, sort_keys=True, ensure_ascii=False)
        parts.append(f"### `{type_.value}`\n\n{when}\n\n```json\n{schema}\n```\n")
    return "\n".join(parts)


def replace_generated(text: str) -> str:
    """``text`` (docs/events.md) with its generated part rendered anew; ValueError without the markers."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no {BEGIN!r} ... {END!r} part")
    return f"{text[: start + len(BEGIN)]}\n\n{catalogue_markdown()}\n{text[end:]}"


def main(arguments: list[str]) -> int:
    """Rewrite the file named in ``arguments`` (or with ``--check``, exit 1 when it is stale)."""
    check = "--check" in arguments
    [name] = [argument for argument in arguments if argument != "--check"]
    path = Path(name)
    current = path.read_text(encoding="utf-8")
    wanted = replace_generated(current)
    if check:
        if current != wanted:
            print(f"{path} is stale: run make events-doc", file=sys.stderr)
            return 1
        return 0
    path.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
