"""``python -m bot`` is ``storyboard-bot``."""

from bot.cli import main

raise SystemExit(main())
