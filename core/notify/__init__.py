"""Notifications outside the app: Telegram, a JSON webhook, e-mail, behind the Notifier port."""

from core.notify.channels import NotifyError, build_channels
from core.notify.service import Notifications

__all__ = ["Notifications", "NotifyError", "build_channels"]
