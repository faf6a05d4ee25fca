# One entry point for people, CI (.ci/run) and the pipeline (buildspec.yml).
# Every target installs what it needs the first time (see `venv`).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# One Python minor everywhere: the image's (the Dockerfile's base tag), which the locks are compiled for
# (requirements/*.txt headers), CodeBuild runs (buildspec.yml) and .venv uses (tests/devtools/test_runtimes.py).
PYTHON_MINOR := $(shell sed -nE 's/^FROM [^ ]*python:([0-9]+\.[0-9]+)-.*/\1/p' Dockerfile)
# python3.12 on PATH, else one that pyenv installed (its shim exists for every installed version, yet runs only the
# selected ones, hence the trial run). PYTHON=/path/to/python3.12 names another.
ifndef PYTHON
PYTHON := $(shell for p in python$(PYTHON_MINOR) "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/$(PYTHON_MINOR).*/bin/python$(PYTHON_MINOR); \
  do "$$p" -c '' 2>/dev/null && { echo "$$p"; break; }; done)
endif
VENV := .venv
BIN := $(abspath $(VENV)/bin)
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)
# node_modules/.bin first: the Node.js LTS that package.json pins (see `node`) runs jsii and the CDK CLI.
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)

# Local defaults for `make serve`; `make run` sets them for its embedded S3.
PORT ?= 8080

.PHONY: help venv system-deps run serve bench cost load test test-service test-integration lint clean test-container image

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

venv: $(STAMP) ## create .venv with the locked dev requirements

# Every package is hash-checked, the installer too: uv comes from requirements/bootstrap.txt (wheels only, so no
# Rust toolchain is ever invoked), then installs exactly the hashed dev lock.
# A venv of another minor (made before the locks moved to the image's) is made again.
$(STAMP): requirements/bootstrap.txt requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(f"{sys.version_info[0]}.{sys.version_info[1]}" != "$(PYTHON_MINOR)")' 2>/dev/null || { \
	  echo "make: needs Python $(PYTHON_MINOR), the image's (Dockerfile), for .venv: install python$(PYTHON_MINOR) (pyenv install $(PYTHON_MINOR), or the system's package) or name it: PYTHON=/path/to/python$(PYTHON_MINOR)" >&2; exit 1; }
	$(VENV)/bin/python -c 'import sys; sys.exit(f"{sys.version_info[0]}.{sys.version_info[1]}" != "$(PYTHON_MINOR)")' 2>/dev/null \
	  || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes --only-binary=:all: \
	  -r requirements/bootstrap.txt
	$(BIN)/uv pip sync -q --native-tls --require-hashes --python $(BIN)/python requirements/dev.txt
	touch $@

# First prerequisite of `test`: a machine without them stops here, in seconds, with one line saying what to install.
system-deps: ## install what make test needs from the system if missing (devtools/system-deps.sh; root or sudo)
	@devtools/system-deps.sh

run: $(STAMP) ## serve on localhost:PORT (default 8080) against an embedded SeaweedFS seeded with samples/
	$(BIN)/python -m devtools.run_local --port $(PORT)

serve: $(STAMP) ## the production gunicorn command (what the image runs), configured by env vars (README: PORT, FILES_BUCKET...)
	cd src && exec $(BIN)/gunicorn --config gunicorn.conf.py

# The tool venvs some suites use install before the suites start, not on first use mid-run: there, with the machine
# busy, their registry downloads failed (name lookups timing out) in 3 of 4 fresh runs under load.
test: system-deps node $(STAMP) checkov-tool cloudsplaining-env scan ## every test suite, after the security scanners
	$(BIN)/pytest

test-service: $(STAMP) ## fast unit tests of the service (moto)
	$(BIN)/pytest tests/service

test-integration: $(STAMP) ## real gunicorn + real SeaweedFS
	$(BIN)/pytest tests/integration

# The gate buildspec.yml runs (pipeline, pull requests, make ci): every suite but tests/container (the pipeline's
# asset stage builds the image itself), JUnit + Cobertura reports for CodeBuild, and a coverage floor.
COVERAGE_MIN ?= 90
.PHONY: test-ci smoke ci
test-ci: $(STAMP) node ## the CI test gate: all but container tests, reports/junit.xml + coverage.xml, coverage >= COVERAGE_MIN
	mkdir -p reports
	$(BIN)/pytest --ignore=tests/container --junitxml=reports/junit.xml \
	  --cov=download_service --cov=stages --cov=pipeline --cov=canary --cov-report=term:skip-covered \
	  --cov-report=xml:reports/coverage.xml --cov-fail-under=$(COVERAGE_MIN)

smoke: $(STAMP) ## tests/smoke against SMOKE_BASE_URL (its canary object, or SMOKE_OBJECT_KEY + _SHA256), else a local server
	mkdir -p reports
	$(BIN)/pytest tests/smoke --junitxml=reports/smoke.xml

ci: $(STAMP) ## run buildspec.yml's phases locally, as CodeBuild does (CI_ARGS="--dry-run" or "--phase build")
	$(BIN)/python -m devtools.ci $(CI_ARGS)

bench: $(STAMP) ## the performance figures of docs/performance.md vs direct S3 (BENCH_ARGS=--quick or --repeat N); writes reports/bench.json
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

cost: $(STAMP) ## each stage's monthly cost at rest and per GiB / million requests, from the templates (COST_ARGS=--markdown)
	$(BIN)/python -m devtools.cost $(COST_ARGS)

load: $(STAMP) ## Locust headless against a local service it starts, or LOAD_ARGS='--url URL --users N --duration 30s'; reports/
	$(BIN)/python -m devtools.load $(LOAD_ARGS)

lint: $(STAMP) ## ruff, hadolint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

test-container: system-deps $(STAMP) ## build the image (podman, stand-in base) and run it read-only against SeaweedFS
	$(BIN)/pytest tests/container

image: $(STAMP) ## build the service image as localhost/download-service:test (see devtools/images.py)
	$(BIN)/python -m devtools.images --version "$$(git rev-parse --short HEAD 2>/dev/null || echo dev)"

# Needs a registry client (crane, skopeo or docker buildx) and public.ecr.aws: not on the dev/CI machines here.
.PHONY: pin-base
pin-base: $(STAMP) ## re-pin the Dockerfile's base image to the digest its tag has now (PIN_ARGS=--check: only report)
	$(BIN)/python -m devtools.pin_base $(PIN_ARGS)

clean: ## remove build output, caches and local data (keeps .venv)
	rm -rf cdk.out .pytest_cache .ruff_cache .coverage htmlcov .local reports
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

# ---- infrastructure (CDK) -----------------------------------------------------------------------------------------
# The CDK CLI is pinned in package.json/package-lock.json and run with npx; no global install, no AWS needed to synth.
CDK := npx --no-install cdk
CDK_FLAGS := --no-notices
NPM_STAMP := node_modules/.installed
export CDK_DISABLE_CLI_TELEMETRY := true
# The CDK CLI builds the image asset with `docker` unless CDK_DOCKER names another binary: podman on a machine
# that has podman and no working docker (absent, or a docker CLI whose engine does not answer `docker info`).
ifndef CDK_DOCKER
ifeq ($(shell docker info >/dev/null 2>&1 && echo up),)
ifneq ($(shell command -v podman),)
export CDK_DOCKER := podman
endif
endif
endif
# A cdk.json stage name; its stacks are <Name>-Stateful and <Name>-Stateless.
STAGE ?= sandbox
STAGE_ID = $(shell printf '%s' '$(STAGE)' | sed 's/./\U&/')

.PHONY: cdk-deps node synth test-infra check-dns deploy-sandbox destroy-sandbox deploy-pipeline diagram bootstrap
PIPELINE_STACK := DownloadServicePipeline

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

cdk-deps: $(NPM_STAMP) ## install the pinned CDK CLI and Node.js LTS into node_modules (npm ci)

# jsii (aws-cdk-lib, in the tests and synth) and the CDK CLI run on the first node on PATH: node_modules/.bin's.
NODE_MIN := 22
node: $(NPM_STAMP) ## check that make runs Node.js >= NODE_MIN (22) LTS, the one package.json pins
	@devtools/node-check.sh $(NODE_MIN)

synth: $(STAMP) node ## render every stage's CloudFormation into cdk.out, offline (no AWS credentials)
	$(CDK) synth $(CDK_FLAGS) --quiet

test-infra: $(STAMP) node ## CDK assertions, cdk-nag, cfn-lint over the synthesized stages
	$(BIN)/pytest tests/infra

CHECK_DNS = $(BIN)/python -m stages.dns.check '$(STAGE)'
# Before the CLI's synth: a real account in cdk.json and AWS credentials, or one line saying which is missing.
PREFLIGHT = @$(BIN)/python -m devtools.preflight

check-dns: $(STAMP) ## is STAGE's hosted zone delegated? (STAGE=prod; no-op without a domain; needs AWS credentials)
	$(CHECK_DNS)

deploy-sandbox: $(STAMP) node ## deploy STAGE (default sandbox) from this machine, no pipeline (after check-dns; AWS credentials)
	$(PREFLIGHT) $@ '$(STAGE)'
	$(CHECK_DNS)
	$(CDK) deploy $(CDK_FLAGS) '$(STAGE_ID)/*' --require-approval broadening

destroy-sandbox: $(STAMP) node ## delete STAGE's stacks (default sandbox; non-production buckets are emptied and deleted)
	$(PREFLIGHT) $@ '$(STAGE)'
	$(CDK) destroy $(CDK_FLAGS) '$(STAGE_ID)/*'

# One-time set-up (devtools/bootstrap): guardrail policies, cdk bootstrap, registry scanning, for every account and
# region cdk.json deploys to. PROFILES="ACCOUNT=PROFILE ..." (one account: PROFILES=PROFILE or the default
# credentials); DRY_RUN=1 prints every AWS call and needs no credentials; CONTEXT=examples/three-accounts.json.
PROFILES ?=
DRY_RUN ?=
CONTEXT ?=
bootstrap: $(STAMP) $(if $(DRY_RUN),,node) ## one-time set-up of every account/region (PROFILES=, DRY_RUN=1, CONTEXT=)
	$(BIN)/python -m devtools.bootstrap $(if $(DRY_RUN),--dry-run) $(addprefix --profile ,$(PROFILES)) \
	  $(if $(CONTEXT),--context $(CONTEXT))

deploy-pipeline: $(STAMP) node ## deploy the pipeline stack once; from then on every git push deploys
	$(PREFLIGHT) $@
	$(CDK) deploy $(CDK_FLAGS) $(PIPELINE_STACK) --require-approval broadening

diagram: ## render docs/architecture.svg and .png from docs/architecture.dot (Graphviz; apt-get install graphviz)
	@command -v dot >/dev/null || { echo "make diagram: needs Graphviz 'dot' (apt-get install graphviz)"; exit 1; }
	dot -Tsvg docs/architecture.dot -o docs/architecture.svg
	dot -Tpng -Gdpi=110 docs/architecture.dot -o docs/architecture.png

# ---- security scanners (docs/operations.md) ------------------------------------------------------------------------
# hadolint runs in `make lint`; cfn-lint and cdk-nag run in `make test-infra` (tests/infra/test_lint.py, test_nag.py).
# AUDIT_IF_UNREACHABLE=warn lets `make scan` go on where PyPI's vulnerability data cannot be reached, saying loudly
# that nothing was audited; `make audit` alone always fails then.
AUDIT_IF_UNREACHABLE ?= warn

.PHONY: scan bandit audit secrets sbom cloudsplaining-env

# cloudsplaining pins its own dependencies (boto3, click...): a venv of its own under .local/ (ignored by git, ruff
# and bandit; `make clean` removes it), from a hashed lock; tests/security/test_cloudsplaining.py runs this first.
CLOUDSPLAINING_ENV := .local/tools/cloudsplaining
cloudsplaining-env: $(CLOUDSPLAINING_ENV)/.installed ## cloudsplaining's own venv (.local/tools/cloudsplaining)

$(CLOUDSPLAINING_ENV)/.installed: requirements/cloudsplaining.txt | $(STAMP)
	$(BIN)/uv venv -q --clear --python $(PYTHON) $(CLOUDSPLAINING_ENV)
	$(BIN)/uv pip sync -q --native-tls --require-hashes --python $(CLOUDSPLAINING_ENV)/bin/python $<
	touch $@

scan: bandit secrets sbom ## bandit, secrets, SBOM and pip-audit (see AUDIT_IF_UNREACHABLE)
	$(BIN)/python -m devtools.scan audit --if-unreachable $(AUDIT_IF_UNREACHABLE)

bandit: $(STAMP) ## bandit over src, stages, pipeline and tooling: 0 findings of medium severity or above
	$(BIN)/bandit -q -c pyproject.toml -r . --severity-level medium 2> >(grep -v 'Test in comment' >&2)

audit: $(STAMP) ## pip-audit of the locked requirements (fails if vulnerable, or if nothing could be audited)
	$(BIN)/python -m devtools.scan audit --if-unreachable fail

secrets: $(STAMP) ## detect-secrets over the tracked files; anything not in .secrets.baseline fails
	$(BIN)/python -m devtools.scan secrets

sbom: $(STAMP) ## CycloneDX SBOMs of the runtime lock and the build environment into reports/
	$(BIN)/python -m devtools.scan sbom

# checkov, the second IaC gate beside cdk-nag (tests/infra/test_checkov.py runs it over every synthesized template),
# pins an older boto3 than the project's: it gets a venv of its own under .local/ (ignored by git, ruff, bandit and
# the image asset), never .venv, installed from the hashed lock requirements/checkov.txt (a new lock installs afresh).
CHECKOV_VENV := .local/tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: checkov-tool
checkov-tool: $(CHECKOV_STAMP) ## checkov in its own venv, .local/tools/checkov (tests/infra/test_checkov.py uses it)

$(CHECKOV_STAMP): requirements/checkov.txt | $(STAMP)
	$(BIN)/uv venv -q --clear --python $(PYTHON) $(CHECKOV_VENV)
	$(BIN)/uv pip sync -q --native-tls --require-hashes --python $(CHECKOV_VENV)/bin/python $<
	touch $@

# py-spy, the sampling profiler of `make profile` (benchmarks/profile.py, docs/performance.md's worker profiles): a
# tool, not a dependency, so a venv of its own under .local/ from the hashed lock requirements/py-spy.txt.
PY_SPY_VENV := .local/tools/py-spy
PY_SPY_STAMP := $(PY_SPY_VENV)/.installed

.PHONY: py-spy-tool profile
py-spy-tool: $(PY_SPY_STAMP) ## py-spy in its own venv, .local/tools/py-spy (make profile uses it)

$(PY_SPY_STAMP): requirements/py-spy.txt | $(STAMP)
	$(BIN)/uv venv -q --allow-existing --python $(PYTHON) $(PY_SPY_VENV)
	$(BIN)/uv pip sync -q --native-tls --require-hashes --python $(PY_SPY_VENV)/bin/python $<
	touch $@

profile: $(PY_SPY_STAMP) ## where a worker's CPU goes on each transport (py-spy; PROFILE_ARGS, see benchmarks/profile.py)
	$(BIN)/python -m benchmarks.profile --py-spy $(PY_SPY_VENV)/bin/py-spy $(PROFILE_ARGS)

# The Synth step's output artifact is cdk.out, which the pipeline keeps in its artifact bucket: the SBOMs go into
# it, beside the assembly whose image they describe. After `make synth`, which re-creates cdk.out.
.PHONY: sbom-assembly
sbom-assembly: $(STAMP) ## copy the SBOMs of `make sbom` into the synthesized cdk.out/sbom/ (after make synth)
	@test -f cdk.out/manifest.json || { echo "sbom-assembly: no cloud assembly in cdk.out: run make synth first"; exit 1; }
	$(BIN)/python -m devtools.scan sbom-copy cdk.out/sbom
