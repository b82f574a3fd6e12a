"""Rewrite the generated table in docs/config.rst from `brubeck.config.SETTINGS`.

Run after adding a setting: `python3 scripts/regen_config_doc.py`. The table is
the `.. list-table::` block: it runs until the first line that is neither blank
nor indented.
"""

from pathlib import Path

from brubeck.config import rst_table

DOC = Path(__file__).resolve().parent.parent / "docs" / "config.rst"
MARK = ".. list-table::"


def main() -> None:
    lines = DOC.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(MARK))
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].strip() and not lines[i].startswith(" ")), len(lines))
    after = "".join(lines[end:])
    DOC.write_text("".join(lines[:start]) + rst_table() + ("\n" + after if after else ""))


if __name__ == "__main__":
    main()
