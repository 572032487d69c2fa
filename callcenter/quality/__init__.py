"""Quality review of calls: the weekly list to review, the form, reviews (docs/quality.md)."""
