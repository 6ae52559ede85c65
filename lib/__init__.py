"""modelgate: the gateway's logic, a package per layer (docs/architecture.md)."""

import warnings

# The deployed package leaves out charset_normalizer, which never runs there (deploy/package.py):
# requests says so once when imported, and falls back to UTF-8 as documented. Nothing else is silenced.
warnings.filterwarnings("ignore", message="Unable to find acceptable character detection dependency")
