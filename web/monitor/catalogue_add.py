"""Add page texts to both gettext catalogues (web/locale/{zh,en}/LC_MESSAGES/monitor.po), keeping their form.

python -m web.monitor.catalogue_add KEY 中文 [English]     # one text (an existing key is changed)
python -m web.monitor.catalogue_add --from-python FILE     # every key of FILE's `LABELS` dict not yet in
                                                           # the catalogues (a text catalogue in Python)
"""

from __future__ import annotations

import argparse
import ast
import io
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from web.monitor.i18n import LOCALE_DIR

__all__ = ["add_texts", "labels_in_python"]

_LANGS = ("zh", "en")


def _path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "monitor.po"


def _write(catalog: Catalog, path: Path) -> None:
    out = io.BytesIO()
    write_po(out, catalog, width=0, no_location=True, include_lineno=False)
    path.write_bytes(out.getvalue())


def add_texts(texts: Iterable[tuple[str, str, str]], *, replace: bool = True) -> list[str]:
    """Put (key, Chinese, English or "") into both catalogues; returns the keys written.

    With `replace=False` a key already in the catalogues is left as it is.
    """
    catalogs = {}
    for lang in _LANGS:
        with _path(lang).open("rb") as handle:
            catalogs[lang] = read_po(handle, locale=lang, domain="monitor")
    written = []
    for key, zh, en in texts:
        if not key or not zh.strip():
            raise ValueError(f"text {key!r}: a key and a Chinese text are required")
        if not replace and key in catalogs["zh"]:
            continue
        for lang, text in zip(_LANGS, (zh, en), strict=True):
            if key in catalogs[lang]:
                catalogs[lang][key].string = text
            else:
                catalogs[lang].add(key, text)
        written.append(key)
    if written:
        for lang in _LANGS:
            _write(catalogs[lang], _path(lang))
    return written


def labels_in_python(source: Path) -> list[tuple[str, str, str]]:
    """The literal `LABELS = {key: (中文, English)}` entries of a Python file, in order (read, not run)."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id == "LABELS" and isinstance(value, ast.Dict):
            pairs = ast.literal_eval(value)
            return [(str(key), str(zh), str(en)) for key, (zh, en) in pairs.items()]
    raise ValueError(f"{source} has no literal LABELS dict")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("key", nargs="?")
    parser.add_argument("zh", nargs="?")
    parser.add_argument("en", nargs="?", default="")
    parser.add_argument("--from-python", type=Path, help="add the keys of this file's LABELS dict not yet present")
    parser.add_argument("--replace", action="store_true", help="with --from-python: its texts replace existing ones")
    args = parser.parse_args(argv)
    if args.from_python:
        written = add_texts(labels_in_python(args.from_python), replace=args.replace)
    elif args.key and args.zh:
        written = add_texts([(args.key, args.zh, args.en)])
    else:
        parser.error("give KEY 中文 [English], or --from-python FILE")
    parser.exit(0, f"{len(written)} text(s) written to {LOCALE_DIR}: {', '.join(written) or 'none'}\n")


if __name__ == "__main__":
    main()
