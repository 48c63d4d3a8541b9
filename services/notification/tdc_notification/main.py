"""`uvicorn tdc_notification.main:app`"""

from .app import build

app = build()
