"""The hypothesis strategies live in the package (``records_toolkit.testing.strategies``) so that
outside formats can test themselves on them; the test modules import them from here."""

from records_toolkit.testing.strategies import NASTY, collections, edtf, edtf_date, free_text, line, slug, url

__all__ = ["NASTY", "collections", "edtf", "edtf_date", "free_text", "line", "slug", "url"]
