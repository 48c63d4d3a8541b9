"""`uvicorn tdc_gateway.main:app`: the gateway, configured from `TDC_*` settings."""

from .app import create_gateway
from .settings import GatewaySettings

app = create_gateway(GatewaySettings())
