# One image for every Herald service and the gateway simulator; the command picks which.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY services services
COPY tools tools
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 herald
COPY --from=build /src/.venv /opt/herald
ENV PATH=/opt/herald/bin:$PATH PYTHONUNBUFFERED=1
USER herald
CMD ["herald-campaign"]
