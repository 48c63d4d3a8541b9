"""`uvicorn tdc_integration.main:app`"""

from .app import build

app = build()
