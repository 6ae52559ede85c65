"""`python -m lib.admin`: see lib/admin/cli.py."""

import sys

from lib.admin.cli import main

sys.exit(main())
