"""neardup for Python: the Rust core's stages, and the whole pipeline on in-memory texts.

>>> import neardup
>>> body = "the quick brown fox jumps over the lazy dog near the river bank today"
>>> docs = [("a", body), ("b", body + "!"), ("c", "an entirely different story about rates")]
>>> [(r["id"], r["cluster"], r["keep"], r["duplicate_of"]) for r in neardup.dedup(docs)]
[('a', 0, True, None), ('b', 0, False, 'a'), ('c', 1, True, None)]
>>> params = neardup.Params.from_cli(["--paragraphs", "off", "--threshold", "0.9"])
>>> accepted, jaccard, containment = neardup.compare(body, body + "!", params)
>>> accepted, jaccard
(True, 1.0)

Every function calls the library (no stage is re-implemented here) and releases the GIL
while it works. `neardup.spark` runs the same stages on Apache Spark.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from . import _core
from ._core import Params

__all__ = ["Params", "compare", "dedup", "normalize", "params", "shingles", "sketch"]
__version__ = _core.__version__


def params(flags: Params | Sequence[str] | None = None) -> Params:
    """Parameters from `neardup dedup` flags (a list of strings), or the defaults."""
    if flags is None:
        return Params()
    if isinstance(flags, Params):
        return flags
    if isinstance(flags, str):
        raise TypeError("flags are a list of strings, e.g. ['--paragraphs', 'off']")
    return Params.from_cli(list(flags))


def dedup(docs: Iterable[tuple[str, str]], flags: Params | Sequence[str] | None = None) -> list[dict]:
    """Clusters in-memory `(id, text)` documents on this machine, as `neardup dedup` does.

    One dict per document, in order: `id`, `cluster`, `keep`, `duplicate_of` (the
    representative's id) and `similarity` (Jaccard to it).
    """
    docs = [(str(i), t) for i, t in docs]
    out = []
    for (doc_id, _), (cluster, keep, dup, sim) in zip(
        docs, _core.dedup_texts(docs, params(flags)), strict=True
    ):
        out.append(
            {
                "id": doc_id,
                "cluster": cluster,
                "keep": keep,
                "duplicate_of": None if dup is None else docs[dup][0],
                "similarity": sim,
            }
        )
    return out


def normalize(text: str) -> str:
    """The normalized text the shingles are made from."""
    return _core.normalize(text)


def shingles(text: str, flags: Params | Sequence[str] | None = None) -> list[int]:
    """The sorted article shingle set of one text (64-bit hashes)."""
    return _core.shingles(text, params(flags))


def sketch(text: str, flags: Params | Sequence[str] | None = None) -> tuple[list[int], list[int]]:
    """`(MinHash signature, LSH band keys)` of one text."""
    return _core.sketch(text, params(flags))


def compare(a: str, b: str, flags: Params | Sequence[str] | None = None) -> tuple[bool, float, float]:
    """Exact verification of two texts: `(matches, jaccard, containment)`."""
    return _core.compare(a, b, params(flags))
