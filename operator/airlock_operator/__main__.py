import sys

from airlock_operator.cli import main

sys.exit(main())
