# Herald — two commands on a fresh machine: `make up` (the system) and `make test` (the suite).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null)
VENV := .venv/bin
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install deps kafka-install mongo-install tools-install kubeconform-install docker-install real-gateways-install image engine-down up up-observability down clean logs status test test-unit test-real-gateways bench bench-pipeline bench-pacing bench-scale lint format compose-check docs demo

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: deps kafka-install mongo-install tools-install kubeconform-install docker-install real-gateways-install ## Install everything: Python deps, Kafka jars, the MongoDB-wire server, validators, a Docker engine, the real gateways

deps: ## Python dependencies from uv.lock into .venv (installs uv itself when missing)
	@if ! uv --version 2>/dev/null | grep -q "$(UV_VERSION)"; then \
		echo "installing uv $(UV_VERSION)"; python3 -m pip install --quiet "uv==$(UV_VERSION)"; fi
	@uv sync --frozen --quiet

kafka-install: ## Apache Kafka's jars from Maven Central (pinned in deploy/kafka/pom.xml)
	@bash deploy/local/kafka.sh install

mongo-install: deps ## SecantusDB, the MongoDB-wire server (a locked dev dependency)
	@bash deploy/local/mongo.sh install

tools-install: ## What the tests use: docker-compose (Debian) for the compose file, Prometheus and promtool (from Debian's prometheus, into .local/bin); kubectl must exist
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || { \
		echo "installing docker-compose (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }
	@bash deploy/local/prometheus.sh install
	@command -v kubectl >/dev/null || echo "warning: kubectl not found; the k8s manifest test will fail"

kubeconform-install: deps ## kubeconform and the Kubernetes/KEDA/Prometheus Operator schemas, offline (Go module proxy; pinned in deploy/local/k8s-validate.sh)
	@bash deploy/local/k8s-validate.sh install

docker-install: ## Debian's docker.io and debootstrap, for the image and the container tests (deploy/local/docker.sh, python-base.sh)
	@bash deploy/local/docker.sh install
	@bash deploy/local/python-base.sh install

image: docker-install ## Build herald:<version> from the Dockerfile (starts deploy/local/docker.sh's engine; make engine-down stops it)
	@bash deploy/local/image.sh build

engine-down: ## Stop the Docker engine of deploy/local/docker.sh (its images stay in .local/docker)
	@bash deploy/local/docker.sh stop

real-gateways-install: ## WAHA Core and Evolution API built from their sources into .local/real-gateways (kept once built), socat and PostgreSQL when missing; says why when it cannot
	@bash deploy/local/real-gateways.sh install

up: install ## Start Kafka, MongoDB, the gateway simulators and the five services; print addresses
	@$(VENV)/herald-devstack up

up-observability: install ## make up, and Prometheus (http://localhost:9090) scraping every service with the alert rules
	@$(VENV)/herald-devstack up --observability

down: ## Stop everything (Prometheus too), keep the data
	@$(VENV)/herald-devstack down

clean: ## Stop everything and wipe the local data
	@$(VENV)/herald-devstack clean

logs: ## Follow the services' logs
	@$(VENV)/herald-devstack logs

status: ## Show what is running
	@$(VENV)/herald-devstack status

test: install ## The whole suite: unit, integration (real Kafka + MongoDB), end to end (processes), the real gateways (tests/real_gateways)
	@$(VENV)/pytest $(PYTEST_ARGS)

test-real-gateways: deps real-gateways-install ## The contract layer alone: Herald's adapters against the real WAHA and Evolution API (tests/real_gateways)
	@bash deploy/local/real-gateways.sh check || true
	@$(VENV)/pytest -rs tests/real_gateways $(PYTEST_ARGS)

test-unit: deps ## Only the tests that need no server
	@$(VENV)/pytest -m "not integration and not e2e" $(PYTEST_ARGS)

docs: deps ## Regenerate docs/: AsyncAPI (every Kafka topic), JSON Schemas of commands and events, OpenAPI
	@$(VENV)/python -m herald_contract_docs

demo: up ## The walk-through with the herald CLI: create, import contacts, send, watch the progress bar until completed (DEMO_MEDIA=file.png: with an image)
	@bash cli/demo.sh $(if $(DEMO_MEDIA),--media "$(DEMO_MEDIA)")

bench: bench-pipeline bench-pacing ## Every benchmark (each starts its own Kafka and MongoDB unless given)

bench-pipeline: install ## Herald end to end vs its raw ceiling (N = BENCH_N, 20,000), fan-out of 20,000 and 100,000 (BENCH_ARGS=--help)
	@$(VENV)/python -m herald_bench.pipeline $(BENCH_ARGS)

bench-scale: install ## Not in make bench (it runs long): campaigns of 100,000 and 1,000,000 contacts over 1,000 accounts; import, fan-out, send rate, memory, bytes/message, API p99 (BENCH_ARGS=--help)
	@$(VENV)/python -m herald_bench.scale $(BENCH_ARGS)

bench-pacing: install ## Accounts one sender carries at the fast profile with p99 lateness < 500 ms: N stepped up from 250, about 10 min (BENCH_ARGS=--help)
	@$(VENV)/python -m herald_bench.pacing $(BENCH_ARGS)

lint: deps ## ruff, the import contracts (.importlinter) and mypy --strict (sources, then each test folder on its own)
	@$(VENV)/ruff check . && $(VENV)/ruff format --check . && $(VENV)/lint-imports --no-cache && $(VENV)/mypy
	@for tests in shared/*/tests services/*/tests tools/*/tests cli/tests "tests conftest.py"; do \
		$(VENV)/mypy $$tests || exit 1; done

format: deps
	@$(VENV)/ruff format . && $(VENV)/ruff check --fix .
