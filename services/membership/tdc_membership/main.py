"""`uvicorn tdc_membership.main:app`"""

from .app import build

app = build()
