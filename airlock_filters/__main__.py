import sys

from airlock_filters.cli import main

sys.exit(main())
