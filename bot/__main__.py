"""``python -m bot`` is ``storyboard-bot``."""

from bot.app.cli import main

raise SystemExit(main())
