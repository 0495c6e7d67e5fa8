# syntax=docker/dockerfile:1
#
# meldingshub container image: one image, one process per component.
#
#   docker build -t meldingshub:0.1.0 .
#   docker run --rm --read-only -v meldingshub-data:/var/lib/meldingshub meldingshub:0.1.0 run router
#
# Stage 1 builds the wheel and installs it (with its dependencies) into a
# virtual environment; stage 2 is a slim runtime holding only that environment,
# so no source tree, compiler or pip cache reaches production. The runtime runs
# as an unprivileged user and writes only under /var/lib/meldingshub (the data
# volume) and /tmp, so Kubernetes can mount the root filesystem read-only.
# Both stages use the same pinned base image so the venv's interpreter path holds.

FROM python:3.11.11-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY meldingshub/ meldingshub/
COPY access/ access/
COPY broker_adapters/ broker_adapters/
COPY schemas/ schemas/
COPY routing/ routing/
COPY addressregister/ addressregister/
COPY metrics/ metrics/
COPY hubstats/ hubstats/
COPY kafka_io/ kafka_io/
COPY hubcore/ hubcore/

RUN pip wheel --no-deps --wheel-dir /dist . \
    && python -m venv /opt/meldingshub \
    && /opt/meldingshub/bin/pip install /dist/meldingshub-*.whl \
    && /opt/meldingshub/bin/python -m compileall -q /opt/meldingshub/lib \
    && /opt/meldingshub/bin/pip uninstall --yes pip setuptools wheel


FROM python:3.11.11-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="meldingshub" \
      org.opencontainers.image.description="Event-streaming hub for message exchange on the Norwegian health network" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
RUN groupadd --system --gid 10001 meldingshub \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /var/lib/meldingshub --shell /usr/sbin/nologin meldingshub \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/meldingshub

COPY --from=build /opt/meldingshub /opt/meldingshub

# Settings a container always wants (see meldingshub/settings.py): listen on all
# interfaces, JSON logs, data under the mounted volume. Secrets never go here.
ENV PATH="/opt/meldingshub/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/meldingshub \
    MPLCONFIGDIR=/tmp/matplotlib \
    MELDINGSHUB_DATA_DIR=/var/lib/meldingshub \
    MELDINGSHUB_HTTP__API_BIND=0.0.0.0:8080 \
    MELDINGSHUB_HTTP__OPS_BIND=0.0.0.0:9464 \
    MELDINGSHUB_LOG__FORMAT=json

VOLUME ["/var/lib/meldingshub"]
WORKDIR /var/lib/meldingshub
EXPOSE 8080 9464
USER 10001:10001

# Liveness only (process up, ops endpoint answering); Kubernetes uses its own probes.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9464/livez', timeout=2).status != 200)"]

ENTRYPOINT ["/opt/meldingshub/bin/meldingshub"]
CMD ["run"]
