"""`redheart data download`: the public data sets, fetched from their publishers.

Every file is checked against a size and sha256 pinned in `pins.json` before
it takes its final name, so a profile never trains on a truncated or altered
copy. Submodules are imported where used: the source readers import `hint`
to name the download command in their missing-file errors, and `checks`
imports those readers, so this package imports nothing eagerly.
"""
