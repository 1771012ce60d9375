"""What the simulator's WAHA takes as a chat id it can send to.

WAHA itself validates nothing of sendText's body (2024.10.8): a missing or odd ``chatId`` goes
through to the engine, which fails (a 500), so the simulator answers that way too.
"""

from __future__ import annotations

import re

CHAT_ID_PATTERN = re.compile(r"[0-9]{5,20}@c\.us")
