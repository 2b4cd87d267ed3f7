# The Concordat image: the worker (default command), the alert dispatcher (python -m dispatcher, also
# concordat-dispatcher), the HTTP API (python -m api, also concordat-api) and the codec server
# (concordat-codec-server), the API serving the pages for people (web/) when configured; see docker-compose.yml
# and docs/operators.md ("Deployment"). Every package pyproject.toml lists is copied: tests/test_image.py installs
# exactly this file set and imports every entry point.
FROM python:3.12-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY store ./store
COPY dispatcher ./dispatcher
COPY api ./api
COPY report ./report
COPY runtime ./runtime
COPY cli ./cli
COPY web ./web
COPY worker.py starter.py ./
# Bytecode is compiled here because the worker cannot write /app: the workflow sandbox re-imports
# workflows/agreement.py for every agreement it loads, and without a .pyc it compiles it each time.
# PyICU (UTS #39 name skeletons, domain/text.py) builds against the system's ICU: libicu-dev stays (its
# libraries), the compiler goes.
RUN apt-get update && apt-get install -y --no-install-recommends g++ pkg-config libicu-dev \
    && pip install --no-cache-dir . && python -m compileall -q /app && useradd --system --uid 10001 concordat \
    && apt-get purge -y --auto-remove g++ pkg-config && rm -rf /var/lib/apt/lists/*
USER concordat

# Prometheus metrics of the SDK runtime; the HTTP API.
EXPOSE 9464 8088
STOPSIGNAL SIGTERM
CMD ["python", "worker.py"]
