"""`uvicorn tdc_catalog.main:app`"""

from .app import build

app = build()
