# One image recipe for the gateway and every service, chosen by build arguments:
#   PACKAGE      the workspace package, e.g. tdc-catalog
#   SOURCE_DIR   its folder, e.g. services/catalog (or gateway)
#   APP          the ASGI app, e.g. tdc_catalog.main:app
# Multi-stage: the build stage resolves only that package's locked dependencies
# (`uv sync --package`); the runtime stage holds that venv, the shared library and the
# package's own folder (code and migrations), and runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG PACKAGE
ARG SOURCE_DIR
ENV UV_PROJECT_ENVIRONMENT=/srv/tdc/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /srv/tdc
# The whole workspace is needed to read the lock; only one member is installed from it.
COPY pyproject.toml uv.lock ./
COPY shared ./shared
COPY gateway ./gateway
COPY services ./services
RUN test -n "$PACKAGE" && test -d "$SOURCE_DIR" \
 && uv sync --frozen --no-dev --package "$PACKAGE" --python /usr/local/bin/python

FROM ${PYTHON_IMAGE} AS runtime
ARG SOURCE_DIR
ARG APP
RUN groupadd --system --gid 10001 tdc \
 && useradd --system --uid 10001 --gid tdc --home-dir /srv/tdc --no-create-home tdc \
 && mkdir -p /srv/tdc/.run /srv/tdc/media && chown tdc:tdc /srv/tdc/.run /srv/tdc/media
WORKDIR /srv/tdc
# Same paths as in the build stage: the venv's editable entries point at these folders.
COPY --from=build /srv/tdc/.venv /srv/tdc/.venv
COPY --from=build /srv/tdc/shared /srv/tdc/shared
COPY --from=build /srv/tdc/${SOURCE_DIR} /srv/tdc/${SOURCE_DIR}
ENV PATH=/srv/tdc/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TDC_APP=${APP}
USER tdc
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# --no-proxy-headers: who is a trusted proxy is each app's own setting, not uvicorn's default.
# --http: the HTTP layer's own errors in the envelope, and a bound on request heads (tdc_shared.http_protocol).
CMD ["sh", "-c", "exec uvicorn \"$TDC_APP\" --host 0.0.0.0 --port 8000 --no-access-log --no-proxy-headers --http tdc_shared.http_protocol:EnvelopeHttpProtocol"]
