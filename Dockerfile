# One image for the five Herald services and the gateway simulator; the command picks which:
#   docker run herald herald-campaign            (the default)
#   docker run herald herald-dispatcher | herald-primary-sender | herald-fallback-sender
#   docker run herald herald-scheduler | herald-gateway-simulator --engine WEBJS
#
# Stage "build" installs the locked dependencies (uv.lock) and the workspace packages into a
# virtual environment with uv; the final stage copies that environment onto a clean Python
# base and runs it as an unprivileged user: no uv, pip, compiler or source tree in it.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_VERSION=0.13.9

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
# Bytecode compiled at build time (the final image is read-only for its user); copies rather
# than links, since the environment moves to another stage; only the base image's Python; no
# cache kept in a stage that is thrown away anyway.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/herald
WORKDIR /src

# The dependencies first, from the lockfile and the workspace's project files only, so this
# layer is rebuilt only when they change.
COPY pyproject.toml uv.lock ./
COPY shared/core/pyproject.toml shared/core/
COPY shared/gateways/pyproject.toml shared/gateways/
COPY shared/infra/pyproject.toml shared/infra/
COPY shared/sender/pyproject.toml shared/sender/
COPY services/campaign/pyproject.toml services/campaign/
COPY services/dispatcher/pyproject.toml services/dispatcher/
COPY services/primary-sender/pyproject.toml services/primary-sender/
COPY services/fallback-sender/pyproject.toml services/fallback-sender/
COPY services/scheduler/pyproject.toml services/scheduler/
COPY tools/gateway-simulator/pyproject.toml tools/gateway-simulator/
COPY tools/devstack/pyproject.toml tools/devstack/
COPY cli/pyproject.toml cli/
COPY tools/bench/pyproject.toml tools/bench/
COPY tools/contract-docs/pyproject.toml tools/contract-docs/
RUN uv sync --frozen --no-dev --no-install-workspace

# Then Herald itself, installed as packages (not editable: the source tree stays behind).
# herald-devstack runs the system as local processes on a developer's machine, herald-bench
# measures it there and herald-contract-docs writes docs/; none is needed here.
COPY shared shared
COPY services services
COPY tools tools
COPY cli cli
RUN uv sync --frozen --no-dev --no-editable --no-install-package herald-devstack --no-install-package herald-bench --no-install-package herald-contract-docs

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Herald: bulk WhatsApp campaigns over Kafka and MongoDB (any of its services, or the gateway simulator, by command)"
# pip, setuptools and wheel are not needed to run; one user, no login, no home to write in; the
# scheduler's archive directory, owned by it (a volume mounted there takes that ownership).
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && groupadd --system --gid 10001 herald \
    && useradd --system --uid 10001 --gid herald --no-create-home --shell /usr/sbin/nologin herald \
    && mkdir -p /var/lib/herald/archive \
    && chown herald:herald /var/lib/herald/archive \
    && chmod 0750 /var/lib/herald/archive
COPY --from=build --chown=root:root /opt/herald /opt/herald
ENV PATH=/opt/herald/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HERALD_HTTP_HOST=0.0.0.0
USER 10001:10001
# campaign 3000, dispatcher 9102, primary-sender 9103, fallback-sender 9104, scheduler 9105,
# gateway simulators 3100/3101 (each service takes HERALD_HTTP_PORT)
EXPOSE 3000 9102 9103 9104 9105 3100 3101
CMD ["herald-campaign"]
