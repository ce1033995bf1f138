"""The gateway's Telegram bot: the engine's status, positions, orders, balances, P&L and
strategies from a phone, and the commands that change things (close a position, the emergency
stop, resume, start and stop a strategy) behind a confirmation.

``bot`` runs python-telegram-bot in the gateway's loop; ``access`` decides which chats it
answers and as whom; ``commands`` does each command through the gateway's endpoints;
``confirm`` holds the questions waiting for Confirm; ``render`` and ``pnl`` make the answers.

python-telegram-bot (v22) rather than aiogram 3: aiogram pins pydantic below 2.14, which the
core needs; python-telegram-bot brings only httpx, lets the Bot API address be set, and its
Application starts and stops inside a loop someone else runs.
"""
