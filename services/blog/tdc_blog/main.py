"""`uvicorn tdc_blog.main:app`"""

from .app import build

app = build()
