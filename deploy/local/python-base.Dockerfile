# A stand-in for the public python:3.11-slim-bookworm image where Docker Hub cannot be reached:
# Debian bookworm (a minbase debootstrap, imported as DEBIAN_IMAGE) with Debian's Python 3.11.
# deploy/local/python-base.sh builds it; the project's Dockerfile builds unchanged on top of it
# (docker build --build-arg PYTHON_IMAGE=herald-python-base:3.11-bookworm).
#
# The official image has `python` and `pip` on PATH from /usr/local; here a virtual environment
# in /opt/python plays that part (Debian's own Python refuses `pip install`, PEP 668). The
# certificate authorities this machine added locally (/usr/local/share/ca-certificates) come
# along, so pip and uv reach the package registries from a build.
ARG DEBIAN_IMAGE=herald-debian:bookworm-minbase
FROM ${DEBIAN_IMAGE}
COPY ca-certificates/ /usr/local/share/ca-certificates/
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        ca-certificates python3.11 python3.11-venv \
    && rm -rf /var/lib/apt/lists/* \
    && update-ca-certificates >/dev/null \
    && python3.11 -m venv /opt/python
ENV PATH=/opt/python/bin:$PATH \
    LANG=C.UTF-8 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
