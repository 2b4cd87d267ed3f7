# The Concordat worker image; see docker-compose.yml and the README's "Deployment" section.
FROM python:3.12-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY config.py encryption.py codec_server.py worker.py starter.py ./
RUN pip install --no-cache-dir . && useradd --system --uid 10001 concordat
USER concordat

# Prometheus metrics of the SDK runtime.
EXPOSE 9464
STOPSIGNAL SIGTERM
CMD ["python", "worker.py"]
